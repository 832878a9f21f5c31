package e2e

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
)

// proxy is a reverse proxy in front of a region, for counting what the
// region serves to one mount: it records every blob Range request and the
// blob bytes passed, can slow blob bodies down, and can die hard (every
// connection cut, the listener closed) like a region whose host fails.
type proxy struct {
	srv *httptest.Server
	// bytesPerSec, if > 0, throttles each blob response.
	bytesPerSec atomic.Int64
	dead        atomic.Bool

	// mu guards ranges and blobBytes.
	mu        sync.Mutex
	ranges    map[string]int // "sha256 Range" -> requests
	blobBytes int64
}

func newProxy(t *testing.T, region string) *proxy {
	t.Helper()
	target, err := url.Parse(region)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ranges: make(map[string]int)}
	rp := httputil.NewSingleHostReverseProxy(target)
	// Cut connections are the point of kill; do not log them.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.dead.Load() {
			panic(http.ErrAbortHandler)
		}
		sha, isBlob := strings.CutPrefix(r.URL.Path, wire.PathBlobs)
		if !isBlob || strings.Contains(sha, "/") {
			rp.ServeHTTP(w, r)
			return
		}
		p.mu.Lock()
		p.ranges[sha+" "+r.Header.Get("Range")]++
		p.mu.Unlock()
		rp.ServeHTTP(&countingWriter{ResponseWriter: w, p: p}, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// URL returns the proxy's base URL.
func (p *proxy) URL() string { return p.srv.URL }

// kill cuts every connection and refuses new ones.
func (p *proxy) kill() {
	p.dead.Store(true)
	p.srv.Listener.Close()
	p.srv.CloseClientConnections()
}

// blob returns the blob body bytes passed so far.
func (p *proxy) blob() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blobBytes
}

// rangesOf returns the Range requests for file sha256 and their counts.
func (p *proxy) rangesOf(sha string) map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int)
	for k, n := range p.ranges {
		if s, rng, _ := strings.Cut(k, " "); s == sha {
			out[rng] += n
		}
	}
	return out
}

// countingWriter counts (and maybe throttles) a blob response body.
type countingWriter struct {
	http.ResponseWriter
	p *proxy
}

func (w *countingWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		if w.p.dead.Load() {
			panic(http.ErrAbortHandler)
		}
		chunk := b
		bps := w.p.bytesPerSec.Load()
		if bps > 0 {
			chunk = b[:min(len(b), 16<<10)]
		}
		// Count before writing: once the client has the bytes, a test may
		// read the counter, so it must never lag behind them. Bytes not
		// written are taken back.
		w.p.mu.Lock()
		w.p.blobBytes += int64(len(chunk))
		w.p.mu.Unlock()
		n, err := w.ResponseWriter.Write(chunk)
		written += n
		if n < len(chunk) {
			w.p.mu.Lock()
			w.p.blobBytes -= int64(len(chunk) - n)
			w.p.mu.Unlock()
		}
		if err != nil {
			return written, err
		}
		b = b[n:]
		if bps > 0 {
			if f, ok := w.ResponseWriter.(http.Flusher); ok {
				f.Flush()
			}
			time.Sleep(time.Duration(float64(n) / float64(bps) * float64(time.Second)))
		}
	}
	return written, nil
}
