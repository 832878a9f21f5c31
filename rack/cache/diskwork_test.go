package cache

import (
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
)

// blockDisk makes c's disk work on file d (punch or unlink, as unlink
// says) stop in the middle until the returned release is called (at the
// latest when the test ends); entered is closed when it has stopped.
func blockDisk(t *testing.T, c *Cache, d digest.Digest, unlink bool) (entered <-chan struct{}, release func()) {
	in, out := make(chan struct{}), make(chan struct{})
	first := true
	c.diskHook = func(op diskOp) {
		if op.f.d != d || op.unlink != unlink || !first {
			return
		}
		first = false // only the runner of this op gets here
		close(in)
		<-out
	}
	var once sync.Once
	release = func() { once.Do(func() { close(out) }) }
	t.Cleanup(release) // before the cache's Close
	return in, release
}

// within fails the test unless f returns within d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still blocked after %s (waiting behind the eviction's disk work?)", what, d)
	}
}

// TestReadsDoNotWaitForEvictionDiskWork: while an eviction's punch or
// unlink is stuck in the disk, reads of other cached blocks, Stats and
// Contains complete; the eviction's effect is whole once it is done.
func TestReadsDoNotWaitForEvictionDiskWork(t *testing.T) {
	for _, unlink := range []bool{false, true} {
		name := map[bool]string{false: "punch", true: "unlink"}[unlink]
		t.Run(name, func(t *testing.T) {
			c := open(t, Options{Limit: 3 * digest.BlockSize})
			old, hot := key("old", 0), key("hot", 0)
			mustPut(t, c, old, block(old, digest.BlockSize))
			victim := old
			if !unlink { // a second block: evicting it punches, the file stays
				victim = key("old", 1)
				mustPut(t, c, victim, block(victim, digest.BlockSize))
			}
			mustPut(t, c, hot, block(hot, digest.BlockSize))
			if unlink {
				other := key("other", 0)
				mustPut(t, c, other, block(other, digest.BlockSize))
			}
			entered, release := blockDisk(t, c, victim.File, unlink)
			put := make(chan error, 1)
			k := key("new", 0)
			go func() { put <- c.Put(k, block(k, digest.BlockSize)) }()
			select {
			case <-entered:
			case err := <-put:
				t.Fatalf("Put returned %v without evicting %v by %s", err, victim, name)
			case <-time.After(10 * time.Second):
				t.Fatal("the eviction never reached its disk work")
			}
			within(t, 5*time.Second, "a read of a cached block", func() { mustGet(t, c, hot, block(hot, digest.BlockSize)) })
			within(t, 5*time.Second, "Stats", func() { c.Stats() })
			within(t, 5*time.Second, "Contains", func() {
				if c.Contains(victim) {
					t.Error("the victim is still in the index while its space is freed")
				}
			})
			release()
			if err := <-put; err != nil {
				t.Fatalf("Put: %v", err)
			}
			mustGet(t, c, k, block(k, digest.BlockSize))
			p := c.filePath(victim.File)
			if unlink {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("evicted file %s still there: %v", p, err)
				}
			} else if alloc := allocated(t, p); alloc > digest.BlockSize {
				t.Errorf("file %s holds %d bytes on disk after its second block was punched", p, alloc)
			}
		})
	}
}

// TestPutWaitsForUnlinkOfItsFile: a Put of a block of a file whose unlink
// is queued or running waits for it, so it never writes into the file being
// removed (its block would vanish with it).
func TestPutWaitsForUnlinkOfItsFile(t *testing.T) {
	c := open(t, Options{Limit: 2 * digest.BlockSize})
	x, z, y := key("x", 0), key("z", 0), key("y", 0)
	mustPut(t, c, x, block(x, digest.BlockSize))
	mustPut(t, c, z, block(z, digest.BlockSize))
	entered, release := blockDisk(t, c, x.File, true)
	go c.Put(y, block(y, digest.BlockSize)) // evicts x: unlinks its file
	<-entered
	x1 := key("x", 1)
	put := make(chan error, 1)
	go func() { put <- c.Put(x1, block(x1, digest.BlockSize)) }()
	select {
	case err := <-put:
		t.Fatalf("Put of a block of the file being unlinked returned %v before the unlink ended", err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	if err := <-put; err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, x1, block(x1, digest.BlockSize))
	if _, err := os.Stat(c.filePath(x.File)); err != nil {
		t.Errorf("the new file of x is gone: %v", err)
	}
}

// allocated returns the bytes the file at p takes on disk.
func allocated(t *testing.T, p string) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}
