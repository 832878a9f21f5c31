// Package regiontest starts real regions for integration tests: a real
// PostgreSQL database (internal/pgtest), a signed dev mirror served over
// HTTP by an httptest server that counts and can throttle what it serves,
// and one or more regions (region.Open + Serve) listening on loopback.
//
// Test binaries that use it must call pgtest.Main from TestMain.
package regiontest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/devmirror"
)

// Mirror is a dev mirror served over HTTP.
type Mirror struct {
	*devmirror.Result
	URL    string
	Server *httptest.Server
	// Served counts body bytes sent, by request path.
	served sync.Map // path -> *atomic.Int64
	// BytesPerSec, if > 0, throttles every response (set before requests).
	BytesPerSec atomic.Int64
	// RangeRequests counts requests that carried a Range header.
	RangeRequests atomic.Int64
}

// MirrorOptions configure NewMirror.
type MirrorOptions = devmirror.Options

// NewMirror writes a dev mirror (o.Out defaults to a temp dir, o.Scale to
// 0.002) and serves it until the test ends.
func NewMirror(t testing.TB, o MirrorOptions) *Mirror {
	t.Helper()
	if o.Out == "" {
		o.Out = t.TempDir()
	}
	if o.Scale == 0 {
		o.Scale = 0.002
	}
	res, err := devmirror.Generate(context.Background(), o)
	if err != nil {
		t.Fatalf("generate mirror: %v", err)
	}
	m := &Mirror{Result: res}
	fsrv := http.FileServer(http.Dir(res.Root))
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			m.RangeRequests.Add(1)
		}
		fsrv.ServeHTTP(&countingWriter{ResponseWriter: w, m: m, path: r.URL.Path}, r)
	}))
	t.Cleanup(m.Server.Close)
	m.URL = m.Server.URL + "/"
	return m
}

// Regenerate writes another version into the same mirror directory.
func (m *Mirror) Regenerate(t testing.TB, o MirrorOptions) {
	t.Helper()
	o.Out = m.Root
	if o.Scale == 0 {
		o.Scale = 0.002
	}
	res, err := devmirror.Generate(context.Background(), o)
	if err != nil {
		t.Fatalf("regenerate mirror: %v", err)
	}
	m.Result = res
}

// Served returns the body bytes served for paths containing substr ("" = all).
func (m *Mirror) Served(substr string) int64 {
	var n int64
	m.served.Range(func(k, v any) bool {
		if strings.Contains(k.(string), substr) {
			n += v.(*atomic.Int64).Load()
		}
		return true
	})
	return n
}

type countingWriter struct {
	http.ResponseWriter
	m    *Mirror
	path string
}

func (w *countingWriter) Write(b []byte) (int, error) {
	v, _ := w.m.served.LoadOrStore(w.path, new(atomic.Int64))
	if bps := w.m.BytesPerSec.Load(); bps > 0 {
		written := 0
		for len(b) > 0 {
			chunk := b[:min(len(b), 32<<10)]
			v.(*atomic.Int64).Add(int64(len(chunk))) // before the client can have them
			n, err := w.ResponseWriter.Write(chunk)
			written += n
			v.(*atomic.Int64).Add(int64(n - len(chunk)))
			if err != nil {
				return written, err
			}
			b = b[n:]
			time.Sleep(time.Duration(float64(n) / float64(bps) * float64(time.Second)))
		}
		return written, nil
	}
	// Count before writing, so the count never lags what a client has.
	v.(*atomic.Int64).Add(int64(len(b)))
	n, err := w.ResponseWriter.Write(b)
	v.(*atomic.Int64).Add(int64(n - len(b)))
	return n, err
}

// ReadFrom keeps io.Copy going through Write (and so through the count).
func (w *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{w}, r)
}

// Region is a region started for a test.
type Region struct {
	*region.Region
	Secret     string
	SecretFile string
	Storage    string
	DBURL      string
	cancel     context.CancelFunc
	done       chan error
}

// Options configure StartRegion. Zero values are fine.
type Options struct {
	Name        string
	DatabaseURL string // "" = a fresh database
	Storage     string // "" = a temp dir
	SecretFile  string // "" = a temp file with secret "test-secret"
	Config      func(*region.Config)
}

// StartRegion opens and serves a region on 127.0.0.1:0 until the test ends.
func StartRegion(t testing.TB, o Options) *Region {
	t.Helper()
	if o.Name == "" {
		o.Name = "region1"
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = pgtest.NewDatabase(t)
	}
	if o.Storage == "" {
		o.Storage = filepath.Join(t.TempDir(), "store")
	}
	if o.SecretFile == "" {
		o.SecretFile = filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(o.SecretFile, []byte("test-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := region.Config{
		Name: o.Name, Listen: "127.0.0.1:0", Storage: o.Storage, DatabaseURL: o.DatabaseURL,
		SecretFile: o.SecretFile, ImportInterval: -1, VerifyRate: -1, HeartbeatInterval: time.Second,
		Log: testLogger(t, o.Name),
	}
	if o.Config != nil {
		o.Config(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := region.Open(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("open region %s: %v", o.Name, err)
	}
	secret, _ := region.LoadSecret(o.SecretFile, false)
	tr := &Region{Region: r, Secret: string(secret), SecretFile: o.SecretFile, Storage: o.Storage,
		DBURL: o.DatabaseURL, cancel: cancel, done: make(chan error, 1)}
	go func() { tr.done <- r.Serve(ctx) }()
	t.Cleanup(tr.Stop)
	return tr
}

// Stop stops the region (idempotent).
func (r *Region) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	<-r.done
	r.Close()
}

// AddSource points the region at a mirror (signed, all products).
func (r *Region) AddSource(t testing.TB, m *Mirror) {
	t.Helper()
	key, err := os.ReadFile(m.KeyringPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.DB().AddSource(context.Background(), db.Source{
		URL: m.URL, Keyring: key, Selections: []db.Selection{{OS: "*", Release: "*"}},
	}); err != nil {
		t.Fatal(err)
	}
}

// Get sends an authenticated GET to the region's API.
func (r *Region) Get(t testing.TB, path string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+r.Secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// Tree fetches the region's boot tree.
func (r *Region) Tree(t testing.TB) wire.Tree {
	t.Helper()
	var tree wire.Tree
	resp := r.Get(t, wire.PathTree, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET tree: %s", resp.Status)
	}
	if err := decodeJSON(resp.Body, &tree); err != nil {
		t.Fatal(err)
	}
	return tree
}

// Eventually polls cond until it holds or timeout passes: testpoll.Until,
// the one polling helper of the tests.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testpoll.Until(t, timeout, what, cond)
}

func testLogger(t testing.TB, name string) *slog.Logger {
	if os.Getenv("BOOTFS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("region", name)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, nil)).With("region", name)
}

// tWriter sends log lines to t.Log, shown only for failing tests (-v shows all).
type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	defer func() { _ = recover() }() // a log line after the test ended must not panic
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
