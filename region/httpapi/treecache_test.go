package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/client"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/tree"
)

// encodeOld is how serveTree encoded the tree before it cached the bytes:
// the reference the cached bytes must equal.
func encodeOld(t testing.TB, tr *wire.Tree) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(tr); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// synthTree is a MAAS-like tree of n entries held by two regions: eight
// files per image version, at their MAAS path and at images/<short name>.
func synthTree(n int) *wire.Tree {
	hb := time.Date(2026, 12, 3, 16, 0, 0, 123456789, time.UTC)
	tr := &wire.Tree{Regions: []wire.Region{
		{Name: "region-a", URL: "http://10.0.0.2:5240", LastHeartbeat: hb, Alive: true},
		{Name: "region-b", URL: "http://10.0.0.3:5240", LastHeartbeat: hb.Add(-3 * time.Second), Alive: true},
	}}
	kinds := []string{"boot-kernel", "boot-initrd", "squashfs"}
	arches := []string{"amd64/ga-22.04", "amd64/hwe-22.04", "arm64/ga-22.04", "amd64/ga-24.04"}
	var seed [8]byte
	for i := 0; len(tr.Files) < n; i++ {
		binary.LittleEndian.PutUint64(seed[:], uint64(i))
		sha := digest.Of(seed[:])
		img := i / 4
		dir := fmt.Sprintf("ubuntu/%s/release%05d/stable/", arches[img%len(arches)], img)
		name := kinds[i%4%len(kinds)]
		if i%4 == 3 {
			name = "boot-dtb"
		}
		size := int64(1<<20 + i*4096)
		regions := []string{"region-a", "region-b"}
		tr.Files = append(tr.Files,
			wire.Entry{Path: dir + name, SHA256: sha, Size: size, Regions: regions},
			wire.Entry{Path: "images/" + sha.String()[:7], SHA256: sha, Size: size, Regions: regions})
	}
	tr.Files = tr.Files[:n]
	tr.Generation = fmt.Sprintf("%024x", n)
	return tr
}

// fixedTreeServer serves tr through writeTree (as serveTree does after its
// long-poll), over real HTTP.
func fixedTreeServer(t testing.TB, s *Server, tr *wire.Tree, latest func(*treeBody) bool) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeTree(w, r, tr, latest)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func newTestServer() *Server { return &Server{d: Deps{Log: slog.New(slog.DiscardHandler)}} }

// rawGet GETs url with a transport that neither asks for nor undoes
// compression, so the test sees the bytes on the wire.
func rawGet(t testing.TB, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testSecret)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkTreeResponses GETs url plain and gzipped and checks both against
// want, the old encoding.
func checkTreeResponses(t *testing.T, url string, want []byte, gen string) {
	t.Helper()
	resp, body := rawGet(t, url)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("plain GET: %s, %d bytes; want 200 and the %d bytes json.Encoder writes", resp.Status, len(body), len(want))
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("plain GET: Content-Encoding %q", ce)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(want)) {
		t.Errorf("plain GET: Content-Length %q, want %d", cl, len(want))
	}
	if resp.Header.Get("ETag") != `"`+gen+`"` || resp.Header.Get("Vary") != "Accept-Encoding" ||
		resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("plain GET: headers %v", resp.Header)
	}
	resp, body = rawGet(t, url, "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip GET: %s, Content-Encoding %q", resp.Status, resp.Header.Get("Content-Encoding"))
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Errorf("gzip GET: Content-Length %q, body %d bytes", cl, len(body))
	}
	if got := gunzip(t, body); !bytes.Equal(got, want) {
		t.Fatalf("gzip GET: %d bytes once gunzipped, not the %d bytes json.Encoder writes", len(got), len(want))
	}
	if resp.Header.Get("ETag") != `"`+gen+`"` || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("gzip GET: headers %v", resp.Header)
	}
	resp, body = rawGet(t, url, "If-None-Match", `"`+gen+`"`, "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != `"`+gen+`"` {
		t.Errorf("conditional GET: %s, %d bytes, ETag %q; want 304", resp.Status, len(body), resp.Header.Get("ETag"))
	}
}

// TestTreeBytesAsEncoderWrote: the cached body, plain or gunzipped, is
// byte for byte what json.NewEncoder(w).Encode(tree) wrote, for a tree
// with names JSON escapes (HTML characters, U+2028, invalid UTF-8),
// heartbeats in other zones, and null regions.
func TestTreeBytesAsEncoderWrote(t *testing.T) {
	tr := synthTree(5000)
	tr.Regions[0].Name = "région <a&b>\u2028\xff"
	tr.Regions[1].LastHeartbeat = tr.Regions[1].LastHeartbeat.In(time.FixedZone("X", 5*3600+1800))
	tr.Files[0].Path = "custom/amd64/generic/<img>&\"q\"/\u2029/root-tgz"
	tr.Files[1].Regions = nil
	tr.Files[2].Regions = []string{}
	s := newTestServer()
	checkTreeResponses(t, fixedTreeServer(t, s, tr, nil).URL, encodeOld(t, tr), tr.Generation)

	empty := &wire.Tree{Generation: "e"}
	checkTreeResponses(t, fixedTreeServer(t, s, empty, nil).URL, encodeOld(t, empty), "e")
	if got := s.trees.encodes.Load(); got != 2 {
		t.Errorf("%d encodings for two trees", got)
	}
}

// TestTreeEncodedOncePerTree: concurrent requests for one tree share one
// encoding; the same generation with other heartbeats (not part of the
// generation) is encoded anew, so that no stale heartbeat is served; a
// request for a tree that is no longer the latest does not evict the
// latest's body.
func TestTreeEncodedOncePerTree(t *testing.T) {
	s := newTestServer()
	var mu sync.Mutex
	tr := synthTree(5000)
	current := tr
	latest := func(b *treeBody) bool {
		mu.Lock()
		defer mu.Unlock()
		return b.is(current)
	}
	var serving sync.Mutex // guards which tree the handler serves
	serve := tr
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serving.Lock()
		t := serve
		serving.Unlock()
		s.writeTree(w, r, t, latest)
	}))
	defer ts.Close()

	want := encodeOld(t, tr)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
			if i%2 == 0 {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			resp, err := rawClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var r io.Reader = resp.Body
			if resp.Header.Get("Content-Encoding") == "gzip" {
				if r, err = gzip.NewReader(resp.Body); err != nil {
					errs <- err
					return
				}
			}
			got, err := io.ReadAll(r)
			if err == nil && !bytes.Equal(got, want) {
				err = fmt.Errorf("request %d: %d bytes, want %d", i, len(got), len(want))
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.trees.encodes.Load(); got != 1 {
		t.Fatalf("32 concurrent requests for one tree: %d encodings, want 1", got)
	}

	// The same generation, a newer heartbeat: new bytes.
	beat := *tr
	beat.Regions = append([]wire.Region(nil), tr.Regions...)
	beat.Regions[0].LastHeartbeat = beat.Regions[0].LastHeartbeat.Add(10 * time.Second)
	mu.Lock()
	current = &beat
	mu.Unlock()
	serving.Lock()
	serve = &beat
	serving.Unlock()
	wantBeat := encodeOld(t, &beat)
	if bytes.Equal(wantBeat, want) {
		t.Fatal("the heartbeat did not change the encoding")
	}
	for range 3 {
		if _, body := rawGet(t, ts.URL); !bytes.Equal(body, wantBeat) {
			t.Fatalf("after a heartbeat: %d bytes, not the new encoding", len(body))
		}
	}
	if got := s.trees.encodes.Load(); got != 2 {
		t.Fatalf("after a heartbeat, 3 requests: %d encodings in all, want 2", got)
	}

	// A late request for the old tree gets it, without evicting the
	// current body.
	serving.Lock()
	serve = tr
	serving.Unlock()
	if _, body := rawGet(t, ts.URL); !bytes.Equal(body, want) {
		t.Fatal("a request for the previous tree did not get it")
	}
	serving.Lock()
	serve = &beat
	serving.Unlock()
	if _, body := rawGet(t, ts.URL); !bytes.Equal(body, wantBeat) {
		t.Fatal("the current tree's body changed")
	}
	if got := s.trees.encodes.Load(); got != 3 {
		t.Fatalf("%d encodings, want 3 (old tree once more, current still cached)", got)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"deflate, gzip;q=1.0, *;q=0.5"}, true},
		{[]string{"br", "gzip ; q=0.5"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip;q=0.000, *"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"identity"}, false},
		{[]string{"br, deflate"}, false},
		{[]string{"gzip;q=x"}, false},
		{[]string{"gzipx"}, false},
	} {
		if got := acceptsGzip(c.values); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.values, got, c.want)
		}
	}
}

// TestTreeToClients: a real region API on PostgreSQL with a tree of two
// regions' files, read by the rack's client (asks for gzip, decodes it itself), Go's
// default client (asks for gzip, undoes it) and raw requests: each gets
// exactly the tree the watcher holds, and the rack's conditional requests
// still get 304.
func TestTreeToClients(t *testing.T) {
	ctx := context.Background()
	var tw *tree.Watcher
	a := startAPI(t, func(d *Deps) {
		tw = tree.NewWatcher(d.DB, slog.New(slog.DiscardHandler), time.Minute, time.Minute, time.Hour)
		d.Tree = tw
	})
	var regionIDs []int64
	for _, name := range []string{"r1", "r2"} {
		id, err := a.db.RegisterRegion(ctx, name, "http://"+name+".example:5240")
		if err != nil {
			t.Fatal(err)
		}
		regionIDs = append(regionIDs, id)
	}
	for i, release := range []string{"jammy", "noble", "focal"} {
		rec := db.SetRecord{Name: "ubuntu/" + release, Architecture: "amd64/ga-22.04", Version: "20261203", Label: "stable"}
		for j, ft := range []string{"boot-kernel", "boot-initrd", "squashfs"} {
			sha := digest.Of([]byte(release + ft))
			size := int64(1000*i + j + 1)
			rec.Files = append(rec.Files, db.FileRecord{Filename: ft, Filetype: ft, SHA256: sha, Size: size})
		}
		if _, err := a.db.RecordSet(ctx, rec); err != nil {
			t.Fatal(err)
		}
		for _, f := range rec.Files {
			for _, id := range regionIDs {
				if err := a.db.MarkHeld(ctx, id, f.SHA256, f.Size); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := tw.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	res, _ := tw.Current()
	if len(res.Tree.Files) < 9 || len(res.Tree.Regions) != 2 {
		t.Fatalf("the test tree has %d files and %d regions; want at least 9 and 2", len(res.Tree.Files), len(res.Tree.Regions))
	}
	url := a.url + wire.PathTree
	checkTreeResponses(t, url, encodeOld(t, &res.Tree), res.Tree.Generation)

	// Go's default transport asks for gzip and undoes it.
	resp, body := a.get(t, wire.PathTree, nil)
	var viaDefault wire.Tree
	if err := json.Unmarshal(body, &viaDefault); err != nil || !resp.Uncompressed {
		t.Fatalf("default client: uncompressed %v, %v", resp.Uncompressed, err)
	}
	// The rack's client asks for gzip and decodes it itself.
	rc, err := client.New(client.Options{Regions: []string{a.url}, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	viaRack, etag, err := rc.Tree(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]*wire.Tree{"default client": &viaDefault, "rack client": viaRack} {
		if !reflect.DeepEqual(got.Files, res.Tree.Files) || got.Generation != res.Tree.Generation || len(got.Regions) != 2 {
			t.Errorf("%s: got a tree of %d files, generation %s; want %d files, %s", name, len(got.Files), got.Generation, len(res.Tree.Files), res.Tree.Generation)
		}
	}
	if again, tag, err := rc.Tree(ctx, etag, 0); err != nil || again != nil || tag != etag {
		t.Errorf("rack client, conditional: %v, %q, %v; want no tree and the same ETag", again, tag, err)
	}
}

// BenchmarkServeTree80k: the boot tree of some 10,000 images (80,000
// entries, two regions each) over loopback HTTP, one response per op, to a
// client that reads and discards it (bytes as on the wire).
//
//   - old: encoded per response, as serveTree did before the cache.
//   - cached, cached-gzip: served from the cache (warmed first: the one
//     encoding per tree is measured by encode and gzip).
//   - encode, gzip: what a new tree generation costs once.
//
// A change that wakes N long-polling racks costs N × old before, and
// encode (+ gzip) + N × cached(-gzip) now. wire-B/resp is the body size.
func BenchmarkServeTree80k(b *testing.B) {
	tr := synthTree(80000)
	get := func(b *testing.B, url string, gz bool) int64 {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := rawClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || (resp.Header.Get("Content-Encoding") == "gzip") != gz {
			b.Fatalf("%s, %d bytes, Content-Encoding %q: %v", resp.Status, n, resp.Header.Get("Content-Encoding"), err)
		}
		return n
	}
	b.Run("old", func(b *testing.B) {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// serveTree before the cache, after its long-poll.
			w.Header().Set("ETag", `"`+tr.Generation+`"`)
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(tr)
		}))
		defer ts.Close()
		var n int64
		for b.Loop() {
			n = get(b, ts.URL, false)
		}
		b.ReportMetric(float64(n), "wire-B/resp")
	})
	for _, gz := range []bool{false, true} {
		name := "cached"
		if gz {
			name = "cached-gzip"
		}
		b.Run(name, func(b *testing.B) {
			s := newTestServer()
			ts := fixedTreeServer(b, s, tr, nil)
			n := get(b, ts.URL, gz) // the one encoding
			for b.Loop() {
				get(b, ts.URL, gz)
			}
			if e := s.trees.encodes.Load(); e != 1 {
				b.Fatalf("%d encodings", e)
			}
			b.ReportMetric(float64(n), "wire-B/resp")
		})
	}
	b.Run("encode", func(b *testing.B) {
		n := len(encodeOld(b, tr))
		for b.Loop() {
			var c treeCache
			c.lastSize.Store(int64(n)) // as after the previous generation
			plain, err := c.body(tr, nil).plain()
			if err != nil {
				b.Fatal(err)
			}
			n = len(plain)
		}
		b.ReportMetric(float64(n), "B/tree")
	})
	b.Run("gzip", func(b *testing.B) {
		var c treeCache
		body := c.body(tr, nil)
		if _, err := body.plain(); err != nil {
			b.Fatal(err)
		}
		var n int
		for b.Loop() {
			body.gzOnce = sync.Once{}
			gz, err := body.gzipped()
			if err != nil {
				b.Fatal(err)
			}
			n = len(gz)
		}
		b.ReportMetric(float64(n), "B/tree")
	})
}

// TestTreeChangeWakesLongPollsOneEncoding: racks long-polling a real
// Server (its watcher on PostgreSQL) are all woken by a change and all get
// the new tree, from one encoding.
func TestTreeChangeWakesLongPollsOneEncoding(t *testing.T) {
	ctx := context.Background()
	d := migratedDB(t)
	tw := tree.NewWatcher(d, slog.New(slog.DiscardHandler), time.Minute, time.Minute, time.Hour)
	s := New(Deps{
		Region: "r1", Secret: []byte(testSecret), DB: d, Tree: tw,
		ImportStatus: func() wire.ImportStatus { return wire.ImportStatus{} },
		StartImport:  func() error { return nil },
		Registry:     prometheus.NewRegistry(),
	})
	var active atomic.Int64 // connections with a request under way
	ts := httptest.NewUnstartedServer(s)
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateActive {
			active.Add(1)
		}
	}
	ts.Start()
	defer ts.Close()
	id, err := d.RegisterRegion(ctx, "r1", "http://r1.example:5240")
	if err != nil {
		t.Fatal(err)
	}
	addSet := func(release string) {
		t.Helper()
		sha := digest.Of([]byte(release))
		rec := db.SetRecord{Name: "ubuntu/" + release, Architecture: "amd64/ga-22.04", Version: "20261203", Label: "stable",
			Files: []db.FileRecord{{Filename: "boot-kernel", Filetype: "boot-kernel", SHA256: sha, Size: 100}}}
		if _, err := d.RecordSet(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := d.MarkHeld(ctx, id, sha, 100); err != nil {
			t.Fatal(err)
		}
		if err := tw.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	addSet("jammy")
	before, _ := tw.Current()
	if len(before.Tree.Files) == 0 {
		t.Fatal("the test tree is empty")
	}

	const racks = 40
	type answer struct {
		status int
		body   []byte
		err    error
	}
	answers := make(chan answer, racks)
	for i := range racks {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+wire.PathTree+"?wait=30s", nil)
			req.Header.Set("Authorization", "Bearer "+testSecret)
			req.Header.Set("If-None-Match", `"`+before.Tree.Generation+`"`)
			if i%2 == 0 {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			resp, err := rawClient.Do(req)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			var r io.Reader = resp.Body
			if resp.Header.Get("Content-Encoding") == "gzip" {
				if r, err = gzip.NewReader(resp.Body); err != nil {
					answers <- answer{err: err}
					return
				}
			}
			b, err := io.ReadAll(r)
			answers <- answer{resp.StatusCode, b, err}
		}()
	}
	// The racks wait (a rack whose request came in after the change
	// would get the new tree at once, which the test also accepts).
	testpoll.Until(t, 10*time.Second, "every long-poll under way", func() bool { return active.Load() >= racks })
	if len(answers) != 0 {
		t.Fatal("a long-poll answered before the tree changed")
	}
	addSet("noble")
	after, _ := tw.Current()
	if after.Tree.Generation == before.Tree.Generation {
		t.Fatal("the change did not change the generation")
	}
	want := encodeOld(t, &after.Tree)
	for range racks {
		a := <-answers
		if a.err != nil || a.status != http.StatusOK || !bytes.Equal(a.body, want) {
			t.Fatalf("a woken rack: %d, %d bytes, %v; want 200 and the new tree's %d bytes", a.status, len(a.body), a.err, len(want))
		}
	}
	if got := s.trees.encodes.Load(); got != 1 {
		t.Errorf("%d racks woken by one change: %d encodings, want 1", racks, got)
	}
}
