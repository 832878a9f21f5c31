package cache

import (
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
)

// Backing hands out a whole cached file for the kernel to read directly
// (FUSE passthrough): a read-only descriptor of the content file of d,
// whose bytes [0, size) are d's, when every block of d is cached and
// fsynced by a Flush (the kernel reads the disk unchecked, and a block
// whose fsync fails is discarded, which a descriptor handed out cannot
// undo). Before it
// returns, every chunk that this process neither wrote nor verified yet is
// read and checked against the index (in parallel); a block that fails is
// discarded like a failed Get and ok is false. The blocks stay pinned until
// release (called exactly once; it closes fd): eviction may drop them from
// the index meanwhile, but their bytes stay on disk until then.
//
// After the check the kernel reads the file without this cache seeing the
// reads: a page that leaves the page cache and is read again from the disk
// is not checked again (the exposure of any local file a server serves).
// With Options.VerifyHits, which promises a check on every read, Backing
// always says no.
func (c *Cache) Backing(d digest.Digest, size int64) (fd int, release func(), ok bool) {
	fd, release, ok, _ = c.BackingTrusted(d, size)
	return fd, release, ok
}

// BackingTrusted is Backing, and also reports whether every chunk of the
// file was trusted already (written or checked by this process, or loaded
// under a matching stamp after a clean stop) so that none needed checking
// now: false after a crash, or when anything touched the file since the
// clean stop.
func (c *Cache) BackingTrusted(d digest.Digest, size int64) (fd int, release func(), ok, trusted bool) {
	if c.verifyHits || size <= 0 {
		return -1, nil, false, false
	}
	f, es, ok := c.pinWhole(d, size)
	if !ok {
		return -1, nil, false, false
	}
	defer c.inflight.Done()
	fd, checked, ok := c.openWhole(d, size, f, es)
	if !ok {
		return -1, nil, false, false
	}
	c.backings.Add(1)
	var once sync.Once
	return fd, func() {
		once.Do(func() {
			unix.Close(fd)
			c.unpinWhole(f, es)
		})
	}, true, !checked
}

// pinWhole pins every block of d, a file of size bytes, and counts its
// content file f as backed, if every block is cached whole and on the disk
// for sure. On success it also counts a call in flight (Close waits for the
// marker too): the caller ends it with c.inflight.Done, and ends the pins
// with unpinWhole.
func (c *Cache) pinWhole(d digest.Digest, size int64) (f *cfile, es []*entry, ok bool) {
	n := digest.BlockCount(size, digest.BlockSize)
	es = make([]*entry, 0, n)
	c.mu.Lock()
	defer c.unlock()
	if c.closed {
		return nil, nil, false
	}
	for i := range n {
		e := c.entries[Key{File: d, Index: i}]
		// Only blocks on the disk for sure: the kernel reads the disk
		// unchecked, and a block whose fsync fails later is discarded.
		if e == nil || e.size != min(digest.BlockSize, size-i*digest.BlockSize) || !e.synced {
			return nil, nil, false
		}
		es = append(es, e)
	}
	f = es[0].file
	for _, e := range es {
		c.pinLocked(e)
		c.touchLocked(e)
	}
	f.backed++
	c.inflight.Add(1)
	return f, es, true
}

// unpinWhole ends pinWhole's pins.
func (c *Cache) unpinWhole(f *cfile, es []*entry) {
	c.mu.Lock()
	defer c.unlock()
	f.backed--
	for _, e := range es {
		c.unpinLocked(e)
	}
}

// openWhole opens content file f, whose blocks es (all of d's, size bytes)
// pinWhole pinned, for the kernel: it must still be d's file, hold every
// block, pass the check of every untrusted chunk (checked says whether any
// needed it) and carry its fragile marker, and no block may have been
// discarded meanwhile. If not, ok is false and the pins are ended.
func (c *Cache) openWhole(d digest.Digest, size int64, f *cfile, es []*entry) (fd int, checked, ok bool) {
	bf, err := openBlock(f.path)
	if err != nil {
		first := c.copyOf(es[0])
		c.unpinWhole(f, es)
		if !outOfFDs(err) {
			c.readFailed(first, err)
		}
		return -1, false, false
	}
	fd = bf.fd
	fail := func() (int, bool, bool) {
		unix.Close(fd)
		c.unpinWhole(f, es)
		return -1, false, false
	}
	c.mu.Lock()
	current := c.files[d] == f
	c.unlock()
	if !current { // every block was evicted meanwhile and the file unlinked
		return fail()
	}
	// The kernel reads up to the file's end: it must hold every block.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size < size {
		last := c.copyOf(es[len(es)-1])
		fail()
		if err == nil {
			err = fmt.Errorf("%s: %d bytes, want %d: %w", f.path, st.Size, size, errTruncated)
		}
		c.readFailed(last, err)
		return -1, false, false
	}
	verified, checked := c.verifyAll(bf, es)
	if !verified {
		return fail()
	}
	if err := c.markFragile(f); err != nil {
		fail()
		c.log.Warn("cannot mark a cached file as handed to the kernel; not passing it through",
			slog.String("path", f.path), slog.Any("err", err))
		return -1, false, false
	}
	// Another reader may have discarded a block meanwhile (found bad, or
	// its fsync failed): hand out only what is still cached.
	c.mu.Lock()
	intact := c.files[d] == f
	for _, e := range es {
		intact = intact && !e.removed
	}
	c.unlock()
	if !intact {
		return fail()
	}
	return fd, checked, true
}

// verifyAll checks every untrusted chunk of the pinned entries es, in the
// content file f, and marks them trusted. A block that fails is discarded
// (and counted) and ok is false; checked says whether any chunk needed
// it. The file is mapped read-only and the chunks are checked in place by
// several workers, which costs the CRC alone, no copy; a fault on the
// mapping (the file truncated under us) is caught and fails the block.
func (c *Cache) verifyAll(f blockFile, es []*entry) (ok, checked bool) {
	var jobs []entry
	var end int64
	c.mu.Lock()
	for _, e := range es {
		if mask := uint32(1)<<chunks(e.size) - 1; e.trusted&mask != mask {
			jobs = append(jobs, *e)
			end = max(end, e.off()+e.size)
		}
	}
	c.unlock()
	if len(jobs) == 0 {
		return true, false
	}
	m, err := unix.Mmap(f.fd, 0, int(end), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		c.readFailed(jobs[0], &fs.PathError{Op: "mmap", Path: f.path, Err: err})
		return false, true
	}
	defer unix.Munmap(m)
	var g errgroup.Group
	var next atomic.Int64
	var failed atomic.Bool
	for range min(runtime.GOMAXPROCS(0), 4, len(jobs)) {
		g.Go(func() error {
			for !failed.Load() {
				k := int(next.Add(1) - 1)
				if k >= len(jobs) {
					return nil
				}
				e := jobs[k]
				if err := checkMapped(m[e.off():e.off()+e.size], &e); err != nil {
					failed.Store(true)
					c.readFailed(e, err)
					return err
				}
				c.mu.Lock()
				if live := c.currentLocked(e.key, e.gen); live != nil {
					live.trusted = uint32(1)<<chunks(e.size) - 1
				}
				c.unlock()
			}
			return nil
		})
	}
	return g.Wait() == nil, true
}

// checkMapped checks the untrusted chunks of e against p, its bytes in a
// mapping. A fault reading the mapping (SIGBUS: the file is shorter than
// the block) is returned as errTruncated.
func checkMapped(p []byte, e *entry) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading the mapped block: %v: %w", r, errTruncated)
		}
	}()
	for i := range chunks(e.size) {
		if e.trusted&(1<<i) != 0 {
			continue
		}
		piece := p[i*chunkSize : min((i+1)*chunkSize, len(p))]
		if crc32.Checksum(piece, castagnoli) != e.crcs[i] {
			return fmt.Errorf("chunk %d: %w", i, errChecksum)
		}
	}
	return nil
}

// copyOf returns a copy of e taken under the lock.
func (c *Cache) copyOf(e *entry) entry {
	c.mu.Lock()
	defer c.unlock()
	return *e
}
