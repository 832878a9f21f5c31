package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/bootfs/bootfs/internal/testskip"
)

// dropPageCache evicts path's pages from the page cache, so the next read
// comes from the disk, as after memory pressure or a reboot. It skips the
// test where the filesystem keeps file data only in the page cache (tmpfs).
func dropPageCache(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	// Asked with mincore, which reads nothing: a probing read (even
	// RWF_NOWAIT) may start readahead and bring the pages back from disk.
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() == 0 {
		return
	}
	if in, err := resident(int(f.Fd()), 0, int(fi.Size())); err != nil || in {
		testskip.Skipf(t, "cannot evict %s from the page cache on this filesystem (TMPDIR on tmpfs?): resident %v, %v", path, in, err)
	}
}

// assertDiscarded checks that k is no longer cached and its bytes (at off
// in the content file path) hold no disk space, and the corrupt count.
func assertDiscarded(t *testing.T, c *Cache, k Key, path string, off int64, corrupt int64) {
	t.Helper()
	if c.Contains(k) {
		t.Fatalf("%v still cached", k)
	}
	name := fmt.Sprintf("%s/%d", strings.TrimPrefix(path, c.dir), off/digest.BlockSize)
	if n := blockFiles(t, c.dir)[name]; n != 0 {
		t.Fatalf("%s still holds %d bytes", name, n)
	}
	if s := c.Stats(); s.Corrupt != corrupt || s.DiskErrors != 0 {
		t.Fatalf("Stats = %+v, want Corrupt %d", s, corrupt)
	}
}

func TestCorruptAfterReopenNotServed(t *testing.T) {
	dir := t.TempDir()
	a, b := key("f", 0), key("f", 1)
	c := open(t, Options{Dir: dir})
	mustPut(t, c, a, block(a, digest.BlockSize))
	mustPut(t, c, b, block(b, 1000))
	path, off := blockPath(t, c, a)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	damage.FlipByte(t, path, off+700000) // the page cache holds the flipped byte too

	c = open(t, Options{Dir: dir})
	// Only the chunk holding the flip is bad; a read of another chunk is
	// served, a read touching it is not and discards the entry.
	if n, ok := c.ReadAt(a, make([]byte, chunkSize), 0); !ok || n != chunkSize {
		t.Fatalf("ReadAt of a good chunk = %d, %v", n, ok)
	}
	mustMiss(t, c, a)
	assertDiscarded(t, c, a, path, off, 1)
	mustGet(t, c, b, block(b, 1000))
	mustPut(t, c, a, block(a, digest.BlockSize))
	mustGet(t, c, a, block(a, digest.BlockSize))
}

func TestCorruptReadFromDiskNotServed(t *testing.T) {
	c := open(t, Options{})
	a := key("f", 0)
	mustPut(t, c, a, block(a, digest.BlockSize))
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, a, block(a, digest.BlockSize))
	path, off := blockPath(t, c, a)
	damage.FlipByte(t, path, off+12345)
	dropPageCache(t, path) // the next read goes to the disk, where the byte is flipped
	if _, ok := c.ReadAt(a, make([]byte, 100), 12300); ok {
		t.Fatal("corrupt chunk served")
	}
	assertDiscarded(t, c, a, path, off, 1)
}

func TestVerifyHits(t *testing.T) {
	c := open(t, Options{VerifyHits: true})
	a := key("f", 0)
	mustPut(t, c, a, block(a, digest.BlockSize))
	mustGet(t, c, a, block(a, digest.BlockSize))
	path, off := blockPath(t, c, a)
	damage.FlipByte(t, path, off+digest.BlockSize-1) // in the page cache: only VerifyHits sees it
	mustMiss(t, c, a)
	assertDiscarded(t, c, a, path, off, 1)
}

func TestTruncatedNotServed(t *testing.T) {
	dir := t.TempDir()
	a, b := key("f", 0), key("f", 1)
	c := open(t, Options{Dir: dir})
	mustPut(t, c, a, block(a, digest.BlockSize))
	mustPut(t, c, b, block(b, digest.BlockSize))
	pa, offA := blockPath(t, c, a)
	pb, _ := blockPath(t, c, b)
	if err := os.Truncate(pa, offA+500000); err != nil {
		t.Fatal(err)
	}
	mustMiss(t, c, a)
	assertDiscarded(t, c, a, pa, offA, 1)

	// Truncated while closed: dropped by Open.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(pb, 2*digest.BlockSize-1); err != nil { // b is block 1
		t.Fatal(err)
	}
	c = open(t, Options{Dir: dir})
	if _, err := os.Stat(pb); !errors.Is(err, fs.ErrNotExist) || c.Contains(b) {
		t.Fatalf("truncated file kept by Open: %v", err)
	}
	mustMiss(t, c, b)
}

func TestMissingFileNotServed(t *testing.T) {
	c := open(t, Options{})
	a := key("f", 0)
	mustPut(t, c, a, block(a, 1000))
	path, off := blockPath(t, c, a)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	mustMiss(t, c, a)
	assertDiscarded(t, c, a, path, off, 1)
}

// TestCorruptFoundDuringClose: a read in flight when Close starts finds its
// block bad on the disk; Close waits for it, so the final index does not
// list the block and the next Open does not trust it.
func TestCorruptFoundDuringClose(t *testing.T) {
	dir := t.TempDir()
	c := open(t, Options{Dir: dir})
	a := key("f", 0)
	mustPut(t, c, a, block(a, digest.BlockSize))
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	path, off := blockPath(t, c, a)
	damage.FlipByte(t, path, off+4321)
	dropPageCache(t, path) // the read goes to the disk, where the byte is flipped
	closed := make(chan error, 1)
	c.testHook = func(stage string) {
		if stage != "open" {
			return
		}
		c.testHook = nil
		go func() { closed <- c.Close() }()
		// Close then waits for this read.
		testpoll.Until(t, 10*time.Second, "Close to begin", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.closed
		})
	}
	mustMiss(t, c, a)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	c = open(t, Options{Dir: dir})
	if c.Contains(a) {
		t.Fatal("the block found bad during Close is still listed")
	}
}
