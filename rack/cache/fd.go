//go:build linux

package cache

// LendFD lends bytes [off, off+n) of block k as a range of its content
// file, for the kernel to copy (splice) into a FUSE reply without this
// process reading them. It succeeds only where a read would have served
// those bytes without checking them: VerifyHits off, page-cache-only reads
// working, every chunk of the range trusted (written or checked by this
// process, or vouched for by a clean stop's stamp), the file's descriptor
// kept open by the cache, and every page of the range in the page cache
// now (mincore, which never reads the disk). That is the rule of a Get's
// page-cache-only read, and as there the chunks are checked again
// afterwards (stillTrusted). As there, a page evicted and read back from the
// disk between the mincore and the kernel's copy is not caught (the
// window is the same as between a Get's mincore and its RWF_NOWAIT read).
//
// fd is the content file's descriptor and fileOff the range's offset in
// it; both stay valid, and the block pinned, until release is called
// (exactly once). The caller must not close fd. ok is false otherwise (the
// caller then reads with Get or ReadAt, which check what they must); a
// false ok is not counted as a miss.
func (c *Cache) LendFD(k Key, off int64, n int) (fd int, fileOff int64, release func(), ok bool) {
	if c.verifyHits || c.noWaitOff.Load() || off < 0 || n <= 0 {
		return -1, 0, nil, false
	}
	r, ok := c.lookup(k)
	if !ok {
		return -1, 0, nil, false
	}
	e := r.e
	first, last := int(off/chunkSize), int((off+int64(n)-1)/chunkSize)
	mask := uint32(1<<(last+1) - 1<<first)
	if !r.shared || off+int64(n) > e.size || e.trusted&mask != mask {
		c.release(r)
		return -1, 0, nil, false
	}
	if in, err := resident(r.fd, e.off()+off, n); err != nil || !in || !c.stillTrusted(e, mask) {
		c.release(r)
		return -1, 0, nil, false
	}
	c.hits.Add(1)
	return r.fd, e.off() + off, func() { c.release(r) }, true
}
