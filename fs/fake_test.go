package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

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

// fakeBacker is a fakeContent that is also a Backer: Backing writes the
// file's bytes to a real file under dir (once) and hands out a new read-only
// descriptor of it, closed by release. It counts Backing and release calls.
type fakeBacker struct {
	*fakeContent
	dir string

	mu       sync.Mutex // guards the fields below
	ok       bool       // whether Backing succeeds
	backings int        // Backing calls, successful or not
	granted  int        // Backing calls that returned ok
	releases int        // release calls
	twice    int        // release calls on an already released descriptor
	errs     []error    // failures to produce a backing file
}

var _ Backer = (*fakeBacker)(nil)

func newFakeBacker(t *testing.T, c *fakeContent) *fakeBacker {
	return &fakeBacker{fakeContent: c, dir: t.TempDir(), ok: true}
}

func (b *fakeBacker) setOK(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ok = ok
}

// counts returns the Backing calls, the successful ones and the releases.
func (b *fakeBacker) counts() (backings, granted, releases int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.backings, b.granted, b.releases
}

// check fails t if a descriptor was released twice or Backing failed.
func (b *fakeBacker) check(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.twice != 0 || len(b.errs) != 0 {
		t.Errorf("backer: %d double releases, errors %v", b.twice, b.errs)
	}
}

func (b *fakeBacker) Backing(ctx context.Context, d digest.Digest, size int64) (int, func(), bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backings++
	if !b.ok {
		return -1, nil, false
	}
	b.fakeContent.mu.Lock()
	content, known := b.files[d]
	b.fakeContent.mu.Unlock()
	if !known || int64(len(content)) != size {
		return -1, nil, false
	}
	p := filepath.Join(b.dir, d.String())
	if _, err := os.Stat(p); err != nil {
		if err := os.WriteFile(p, content, 0o444); err != nil {
			b.errs = append(b.errs, err)
			return -1, nil, false
		}
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.errs = append(b.errs, err)
		return -1, nil, false
	}
	b.granted++
	released := false
	return fd, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.releases++
		if released {
			b.twice++
			return
		}
		released = true
		unix.Close(fd)
	}, true
}
