package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// fakeContent is a Content backed by a map, counting reads per digest, with
// injectable failures.
type fakeContent struct {
	mu    sync.Mutex // guards all fields
	files map[digest.Digest][]byte
	fail  map[digest.Digest]error
	short map[digest.Digest]bool // return one byte less than asked, no error
	calls map[digest.Digest]int
}

var _ Content = (*fakeContent)(nil)

func newFakeContent() *fakeContent {
	return &fakeContent{
		files: make(map[digest.Digest][]byte),
		fail:  make(map[digest.Digest]error),
		short: make(map[digest.Digest]bool),
		calls: make(map[digest.Digest]int),
	}
}

func (c *fakeContent) put(b []byte) digest.Digest {
	d := digest.Of(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files[d] = b
	return d
}

func (c *fakeContent) setFail(d digest.Digest, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail[d] = err
}

func (c *fakeContent) setShort(d digest.Digest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.short[d] = true
}

func (c *fakeContent) callsFor(d digest.Digest) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[d]
}

func (c *fakeContent) ReadAt(ctx context.Context, d digest.Digest, size int64, p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.calls[d]++
	b, ok := c.files[d]
	err, short := c.fail[d], c.short[d]
	c.mu.Unlock()
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, fmt.Errorf("fake content: unknown sha256 %s", d.Short(12))
	case int64(len(b)) != size:
		return 0, fmt.Errorf("fake content: %s has %d bytes, asked as %d", d.Short(12), len(b), size)
	case off >= size:
		return 0, io.EOF
	}
	if short && len(p) > 0 {
		p = p[:len(p)-1]
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// blockingContent blocks every read until the request's context is done.
type blockingContent struct{}

func (blockingContent) ReadAt(ctx context.Context, _ digest.Digest, _ int64, _ []byte, _ int64) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

// files is a test tree: path -> content.
type files map[string][]byte

// tree stores every file in c and returns the wire tree.
func (f files) tree(c *fakeContent, gen string) *wire.Tree {
	t := &wire.Tree{Generation: gen}
	for p, b := range f {
		t.Files = append(t.Files, wire.Entry{Path: p, SHA256: c.put(b), Size: int64(len(b)), Regions: []string{"r1"}})
	}
	sort.Slice(t.Files, func(i, j int) bool { return t.Files[i].Path < t.Files[j].Path })
	return t
}

// randBytes returns n deterministic pseudo-random bytes.
func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x626f6f746673))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// logRecorder is a slog.Handler keeping every record.
type logRecorder struct {
	mu      sync.Mutex // guards records
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// count returns how many records at level or above were logged.
func (h *logRecorder) count(level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level >= level {
			n++
		}
	}
	return n
}

func mustUpdate(t *testing.T, r *Root, w *wire.Tree) {
	t.Helper()
	if err := r.Update(w); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

var errInjected = errors.New("injected failure")
