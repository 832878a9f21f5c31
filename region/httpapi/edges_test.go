package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
	"github.com/bootfs/bootfs/region/tree"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testSecret = "edge-secret"

// api is a Server on a real database, store and listener.
type api struct {
	url   string
	store *store.Disk
	db    *db.DB
}

// migratedDB opens a fresh PostgreSQL database with the schema, closed at
// the end of the test.
func migratedDB(t testing.TB) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// startAPI serves a Server over loopback until the test ends; tune may
// change the Deps (timeouts) first.
func startAPI(t *testing.T, tune func(*Deps)) *api { return startAPITB(t, tune) }

func startAPIB(b *testing.B) *api { return startAPITB(b, nil) }

func startAPITB(t testing.TB, tune func(*Deps)) *api {
	t.Helper()
	ctx := context.Background()
	d := migratedDB(t)
	st, err := store.Open(store.Options{Dir: filepath.Join(t.TempDir(), "store")})
	if err != nil {
		t.Fatal(err)
	}
	tw := tree.NewWatcher(d, nil, time.Minute, time.Minute, time.Hour)
	if err := tw.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	deps := Deps{
		Region: "r1", Secret: []byte(testSecret), DB: d, Store: st, Tree: tw,
		ImportStatus: func() wire.ImportStatus { return wire.ImportStatus{} },
		StartImport:  func() error { return nil },
		Registry:     prometheus.NewRegistry(),
	}
	if tune != nil {
		tune(&deps)
	}
	s := New(deps)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Serve(sctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &api{url: "http://" + ln.Addr().String(), store: st, db: d}
}

// put stores n random bytes and returns their digest.
func (a *api) put(t *testing.T, n int) (digest.Digest, []byte) { return a.putB(t, n) }

func (a *api) putB(t testing.TB, n int) (digest.Digest, []byte) {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	d := digest.Of(b)
	ctx := context.Background()
	blocks, err := a.store.Put(ctx, d, int64(n), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// Recorded as an import records it (block digests included).
	if _, err := a.db.Pool().Exec(ctx, `INSERT INTO blob (sha256, size, filename_on_disk) VALUES ($1, $2, $3)`,
		d.String(), n, d.String()[:12]); err != nil {
		t.Fatal(err)
	}
	if err := a.db.SetBlockDigests(ctx, d, digest.BlockSize, blocks); err != nil {
		t.Fatal(err)
	}
	return d, b
}

func (a *api) get(t *testing.T, path string, h http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+testSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	return resp, b
}

// TestRangeEdges: "bytes=" and "bytes=-0" answer 416 as the README says;
// ordinary ranges still work.
func TestRangeEdges(t *testing.T) {
	a := startAPI(t, nil)
	d, content := a.put(t, 3<<20+17)
	path := wire.PathBlobs + d.String()
	for _, rng := range []string{"bytes=", "bytes=-0", "bytes= -0 ", "bytes=,", "bytes=-0,-0"} {
		resp, b := a.get(t, path, http.Header{"Range": {rng}})
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("Range %q: %s (%d bytes), want 416", rng, resp.Status, len(b))
		}
		if cr := resp.Header.Get("Content-Range"); cr != "bytes */3145745" {
			t.Errorf("Range %q: Content-Range %q", rng, cr)
		}
	}
	for rng, want := range map[string]string{
		"bytes=-0,0-9":          string(content[:10]),
		"bytes=10-19":           string(content[10:20]),
		"bytes=-5":              string(content[len(content)-5:]),
		"bytes=1048570-1048590": string(content[1048570:1048591]),
	} {
		resp, b := a.get(t, path, http.Header{"Range": {rng}})
		if resp.StatusCode != http.StatusPartialContent || string(b) != want {
			t.Errorf("Range %q: %s, %d bytes, want 206 and %d bytes", rng, resp.Status, len(b), len(want))
		}
	}
	if resp, b := a.get(t, path, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(b, content) {
		t.Errorf("whole file: %s, %d bytes", resp.Status, len(b))
	}
}

// TestInvalidBytesInNames: a NUL or bytes that are not UTF-8 in a path or
// query answer 400 or 404, never 500.
func TestInvalidBytesInNames(t *testing.T) {
	a := startAPI(t, nil)
	for _, p := range []string{
		wire.PathMAAS + "abc%00def/x",
		wire.PathMAAS + "%ff%fe/x",
		wire.PathMAAS + "abc%00",
		wire.PathBlobs + "%00",
		wire.PathRegions + "/%00",
		wire.PathSources + "?url=%00",
		wire.PathTree + "?wait=%ff",
		"/%00",
	} {
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			req, err := http.NewRequest(method, a.url+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+testSecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, p, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %s %q, want 400 or 404", method, p, resp.Status, b)
			}
		}
	}
}

// TestSlowHeadersAreCut: a client that never finishes its headers is
// disconnected after ReadHeaderTimeout.
func TestSlowHeadersAreCut(t *testing.T) {
	a := startAPI(t, func(d *Deps) { d.ReadHeaderTimeout = 300 * time.Millisecond })
	c, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection was still open after %v", time.Since(start))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("cut after %v", took)
	}
}

// TestStalledReaderIsCutLongPollIsNot: a client that stops reading a file
// body is cut after WriteTimeout (the server does not hold the connection
// forever), one that keeps reading gets the whole body whatever it takes,
// and a tree long-poll longer than WriteTimeout still gets its answer.
func TestStalledReaderIsCutLongPollIsNot(t *testing.T) {
	a := startAPI(t, func(d *Deps) { d.WriteTimeout = time.Second })
	d, content := a.put(t, 32<<20)

	c, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(64 << 10)
	if _, err := io.WriteString(c, "GET "+wire.PathBlobs+d.String()+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+testSecret+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second) // stalled: the server's writes block, then time out
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server kept the stalled connection open")
	}
	if err == nil && n == int64(len(content)) {
		t.Fatalf("a client that stalled for 4s got the whole body (write timeout 1s)")
	}
	t.Logf("stalled client: %d of %d bytes, then %v", n, len(content), err)

	// A slow but steady reader gets everything, however long the body
	// takes. Its own server has a longer write timeout (3s) than the one
	// above, so that a reader paused by a loaded machine (CI) is still
	// steady; the read takes over twice that.
	b := startAPI(t, func(d *Deps) { d.WriteTimeout = 3 * time.Second })
	d, content = b.put(t, 32<<20)
	req, _ := http.NewRequest(http.MethodGet, b.url+wire.PathBlobs+d.String(), nil)
	req.Header.Set("Authorization", "Bearer "+testSecret)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	var got bytes.Buffer
	buf := make([]byte, 256<<10) // at least 128 reads, 50ms apart: over 6s
	for {
		time.Sleep(50 * time.Millisecond)
		n, err := io.ReadFull(resp.Body, buf)
		got.Write(buf[:n])
		if err == io.ErrUnexpectedEOF && got.Len() == len(content) {
			err = io.EOF
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("steady reader cut after %d bytes, %v: %v", got.Len(), time.Since(start), err)
		}
	}
	if !bytes.Equal(got.Bytes(), content) {
		t.Fatalf("steady reader got %d bytes, want %d", got.Len(), len(content))
	}
	if time.Since(start) < 3*time.Second {
		t.Errorf("the steady read took %v; the test needs it longer than the write timeout", time.Since(start))
	}

	// A long-poll of 2s answers 304 after the wait, not cut at 1s.
	resp0, _ := a.get(t, wire.PathTree, nil)
	etag := resp0.Header.Get("ETag")
	start = time.Now()
	resp1, _ := a.get(t, wire.PathTree+"?wait=2s", http.Header{"If-None-Match": {etag}})
	if resp1.StatusCode != http.StatusNotModified || time.Since(start) < 2*time.Second {
		t.Errorf("long-poll: %s after %v, want 304 after 2s", resp1.Status, time.Since(start))
	}
}

// TestServeWithoutRecordedDigests: a stored file whose block digests were
// never recorded is hashed whole before it is served; damaged, it is
// quarantined and answered 404, never sent.
func TestServeWithoutRecordedDigests(t *testing.T) {
	var mu sync.Mutex
	var corrupt []digest.Digest
	a := startAPI(t, func(d *Deps) {
		d.OnCorrupt = func(dg digest.Digest) {
			mu.Lock()
			corrupt = append(corrupt, dg)
			mu.Unlock()
		}
	})
	ctx := context.Background()
	content := make([]byte, 2<<20+5)
	_, _ = rand.Read(content)
	d := digest.Of(content)
	if _, err := a.store.Put(ctx, d, int64(len(content)), bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if resp, b := a.get(t, wire.PathBlobs+d.String(), nil); resp.StatusCode != http.StatusOK || !bytes.Equal(b, content) {
		t.Fatalf("intact file: %s, %d bytes", resp.Status, len(b))
	}
	f, err := os.OpenFile(a.store.Path(d), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{content[7] ^ 1}, 7); err != nil {
		t.Fatal(err)
	}
	f.Close()
	resp, b := a.get(t, wire.PathBlobs+d.String(), nil)
	if resp.StatusCode != http.StatusNotFound || bytes.Equal(b, content) {
		t.Errorf("damaged file: %s, %d bytes; want 404", resp.Status, len(b))
	}
	if _, err := a.store.Stat(d); err == nil {
		t.Error("the damaged file is still in the store")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(corrupt) != 1 || corrupt[0] != d {
		t.Errorf("OnCorrupt calls: %v", corrupt)
	}
}
