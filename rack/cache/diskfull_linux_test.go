package cache

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/testskip"
)

// fakeClock is a settable clock for the degraded period.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (f *fakeClock) now() time.Time      { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) add(d time.Duration) { f.mu.Lock(); f.t = f.t.Add(d); f.mu.Unlock() }

// TestDiskFull fills a 2.5 MiB tmpfs: Put must fail with ENOSPC and leave no
// partial file, the cache must report itself degraded and refuse further
// Puts without touching the disk until the rest is over, and Gets of what
// is cached must keep working.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		testskip.Skip(t, "mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=2560k"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	c, err := Open(Options{Dir: dir, Limit: 64 << 20, DegradedFor: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { // before the unmount
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c.now = clock.now

	var stored []Key
	var putErr error
	for i := range 5 {
		k := key("big", int64(i))
		if putErr = c.Put(k, block(k, digest.BlockSize)); putErr != nil {
			break
		}
		stored = append(stored, k)
	}
	if !errors.Is(putErr, syscall.ENOSPC) {
		t.Fatalf("Put on a full disk: %v, want ENOSPC", putErr)
	}
	if len(stored) != 2 {
		t.Fatalf("%d blocks fit in 2.5 MiB, want 2", len(stored))
	}
	s := c.Stats()
	if !s.Degraded || s.DiskErrors != 1 || s.Blocks != 2 || s.Used != 2*digest.BlockSize {
		t.Fatalf("Stats after ENOSPC = %+v", s)
	}
	if files := blockFiles(t, dir); len(files) != 2 {
		t.Fatalf("partial file left: %v", files)
	}
	for _, k := range stored {
		mustGet(t, c, k, block(k, digest.BlockSize))
	}

	// While degraded, Put fails fast without trying the disk.
	k := key("small", 0)
	if err := c.Put(k, []byte("tiny")); !errors.Is(err, ErrDegraded) {
		t.Fatalf("Put while degraded: %v, want ErrDegraded", err)
	}
	if s := c.Stats(); s.DiskErrors != 1 || s.Blocks != 2 {
		t.Fatalf("Stats = %+v", s)
	}

	// After the rest the disk is tried again: a small block fits now.
	clock.add(time.Minute)
	if c.Stats().Degraded {
		t.Fatal("still degraded after DegradedFor")
	}
	mustPut(t, c, k, []byte("tiny"))
	mustGet(t, c, k, []byte("tiny"))
	// A full block does not, and the cache rests again.
	big := key("big", 9)
	if err := c.Put(big, block(big, digest.BlockSize)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put: %v, want ENOSPC", err)
	}
	if s := c.Stats(); !s.Degraded || s.DiskErrors != 2 {
		t.Fatalf("Stats = %+v", s)
	}
}
