package cache

import "golang.org/x/sys/unix"

// Content files stay open between reads, so a warm hit is one pread instead
// of open + pread + close (which costs ~20% of a 128 KiB read). At most
// maxOpenFiles descriptors are kept, least recently read closed first. A
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

// Descriptor states of a cfile (cfile.fdState).
const (
	fdNone     = iota // no descriptor kept
	fdCached          // fd is open and in Cache.fdLRU
	fdRetiring        // fd is open, out of fdLRU, closed at the last release
)

// acquireFDLocked returns f's kept descriptor with a reference taken, if it
// has one. Caller holds c.mu.
func (c *Cache) acquireFDLocked(f *cfile) (fd int, ok bool) {
	if f.fdState != fdCached {
		return 0, false
	}
	f.fdRefs++
	c.fdLRU.MoveToFront(f.fdElem)
	return f.fd, true
}

// adoptFD offers fd, just opened for f, to be kept. It reports whether f
// now owns fd, with the caller holding a reference (if not, the caller
// closes fd after its read), and whether f is still the current record of
// its digest: only then is fd certain to be f's file, because a record is
// dropped, and its file unlinked, before a new one can be created.
func (c *Cache) adoptFD(f *cfile, fd int) (kept, current bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	current = c.files[f.d] == f
	if c.closed || f.fdState != fdNone || !current {
		return false, current
	}
	f.fd, f.fdState, f.fdRefs = fd, fdCached, 1
	f.fdElem = c.fdLRU.PushFront(f)
	for c.fdLRU.Len() > c.maxOpen {
		c.dropFDLocked(c.fdLRU.Back().Value.(*cfile))
	}
	return true, true
}

// releaseFDLocked drops a read's reference to f's kept descriptor. Caller
// holds c.mu.
func (c *Cache) releaseFDLocked(f *cfile) {
	if f.fdRefs--; f.fdRefs == 0 && f.fdState == fdRetiring {
		c.closeFDLocked(f)
	}
}

// dropFDLocked stops keeping f's descriptor: closes it now if no read holds
// it, else retires it for the last reader to close. Caller holds c.mu.
func (c *Cache) dropFDLocked(f *cfile) {
	if f.fdState != fdCached {
		return
	}
	c.fdLRU.Remove(f.fdElem)
	f.fdElem = nil
	if f.fdRefs > 0 {
		f.fdState = fdRetiring
		return
	}
	c.closeFDLocked(f)
}

// closeFDLocked closes f's descriptor (a close of a regular file is cheap
// enough to do under the lock). Caller holds c.mu.
func (c *Cache) closeFDLocked(f *cfile) {
	unix.Close(f.fd)
	f.fd, f.fdState = 0, fdNone
}

// dropAllFDsLocked stops keeping every descriptor (Close). Caller holds c.mu.
func (c *Cache) dropAllFDsLocked() {
	for c.fdLRU.Len() > 0 {
		c.dropFDLocked(c.fdLRU.Back().Value.(*cfile))
	}
}
