package cache

import (
	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/rack/internal/lru"
)

// Content files stay open between reads, so a warm hit is one pread instead
// of open + pread + close (which costs ~20% of a 128 KiB read). At most
// maxOpenFiles descriptors are kept in Cache.fds (the rack's refcounted
// LRU, rack/internal/lru), least recently read closed first. A
// kept descriptor belongs to one cfile record; a content file that loses
// its last block is unlinked and its record dropped, so a descriptor always
// reads the inode its record names.
//
// A descriptor is closed only when no read holds it: each read takes a
// reference under Cache.mu; a descriptor trimmed or dropped while read is
// retired, and the last reader closes it. So a descriptor number is never
// closed, and reused by the kernel for another file, while a read may still
// use it.

// maxOpenFiles is how many content files the cache keeps open.
const maxOpenFiles = 256

// newFDs returns the LRU of kept descriptors: a cfile with one has it as
// cfile.kept until it is closed, at the last release after it left the LRU.
func newFDs() *lru.LRU[*cfile, int] {
	return lru.New(maxOpenFiles, func(f *cfile, fd int) {
		// A close of a regular file is cheap enough to do under the lock.
		unix.Close(fd)
		f.kept = nil
	})
}

// acquireFDLocked returns f's kept descriptor with a reference taken, if it
// has one. Caller holds c.mu.
func (c *Cache) acquireFDLocked(f *cfile) (fd int, ok bool) {
	e := c.fds.Get(f)
	if e == nil {
		return 0, false
	}
	return e.Value, true
}

// adoptFD offers fd, just opened for f, to be kept. It reports whether f
// now owns fd, with the caller holding a reference (if not, the caller
// closes fd after its read), and whether f is still the current record of
// its digest: only then is fd certain to be f's file, because a record is
// dropped, and its file unlinked, before a new one can be created.
func (c *Cache) adoptFD(f *cfile, fd int) (kept, current bool) {
	c.mu.Lock()
	defer c.unlock()
	current = c.files[f.d] == f
	// A descriptor of f still open (kept, or retired and read) stays the
	// only one.
	if c.closed || f.kept != nil || !current {
		return false, current
	}
	f.kept, _ = c.fds.Add(f, fd)
	c.fds.Acquire(f.kept)
	return true, true
}

// releaseFDLocked drops a read's reference to f's kept descriptor. Caller
// holds c.mu.
func (c *Cache) releaseFDLocked(f *cfile) {
	c.fds.Release(f.kept)
}

// dropFDLocked stops keeping f's descriptor: closes it now if no read holds
// it, else retires it for the last reader to close. Caller holds c.mu.
func (c *Cache) dropFDLocked(f *cfile) {
	c.fds.Remove(f)
}

// dropAllFDsLocked stops keeping every descriptor (Close). Caller holds c.mu.
func (c *Cache) dropAllFDsLocked() {
	c.fds.Clear()
}
