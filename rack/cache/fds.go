package cache

import "golang.org/x/sys/unix"

// Block files stay open between reads, so a warm hit is one pread instead
// of open + pread + close (which costs ~20% of a 128 KiB read). At most
// maxOpenBlocks files are kept, least recently read closed first. Because
// block file names are never reused, a kept descriptor always reads the
// bytes its entry names, even after the file is unlinked.
//
// A descriptor is closed only when no read holds it: each read takes a
// reference under Cache.mu; an entry that is evicted, discarded, or whose
// descriptor is trimmed while read retires it, and the last reader closes
// it. So a descriptor number is never closed, and reused by the kernel for
// another file, while a read may still use it.

// maxOpenBlocks is how many block files the cache keeps open.
const maxOpenBlocks = 256

// Descriptor states of an entry (entry.fdState).
const (
	fdNone     = iota // no descriptor kept
	fdCached          // entry.fd is open and in Cache.fdLRU
	fdRetiring        // entry.fd is open, out of fdLRU, closed at the last release
)

// acquireFDLocked returns e's kept descriptor with a reference taken, if it
// has one. Caller holds c.mu.
func (c *Cache) acquireFDLocked(e *entry) (fd int, ok bool) {
	if e.fdState != fdCached {
		return 0, false
	}
	e.fdRefs++
	c.fdLRU.MoveToFront(e.fdElem)
	return e.fd, true
}

// adoptFD offers fd, just opened for e, to be kept. It reports whether e
// now owns fd, with the caller holding a reference; if not, the caller
// closes fd after its read.
func (c *Cache) adoptFD(e *entry, fd int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || e.fdState != fdNone || c.currentLocked(e.key, e.gen) != e {
		return false
	}
	e.fd, e.fdState, e.fdRefs = fd, fdCached, 1
	e.fdElem = c.fdLRU.PushFront(e)
	for c.fdLRU.Len() > c.maxOpen {
		c.dropFDLocked(c.fdLRU.Back().Value.(*entry))
	}
	return true
}

// releaseFD ends a read's use of fd: drops the reference if e owns fd
// (shared), closes it otherwise.
func (c *Cache) releaseFD(e *entry, fd int, shared bool) {
	if !shared {
		unix.Close(fd)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.fdRefs--; e.fdRefs == 0 && e.fdState == fdRetiring {
		c.closeFDLocked(e)
	}
}

// dropFDLocked stops keeping e's descriptor: closes it now if no read holds
// it, else retires it for the last reader to close. Caller holds c.mu.
func (c *Cache) dropFDLocked(e *entry) {
	if e.fdState != fdCached {
		return
	}
	c.fdLRU.Remove(e.fdElem)
	e.fdElem = nil
	if e.fdRefs > 0 {
		e.fdState = fdRetiring
		return
	}
	c.closeFDLocked(e)
}

// closeFDLocked closes e's descriptor (a close of a regular file is cheap
// enough to do under the lock). Caller holds c.mu.
func (c *Cache) closeFDLocked(e *entry) {
	unix.Close(e.fd)
	e.fd, e.fdState = 0, fdNone
}

// dropAllFDsLocked stops keeping every descriptor (Close). Caller holds c.mu.
func (c *Cache) dropAllFDsLocked() {
	for c.fdLRU.Len() > 0 {
		c.dropFDLocked(c.fdLRU.Back().Value.(*entry))
	}
}
