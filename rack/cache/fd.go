//go:build linux

package cache

// LendFD lends bytes [off, off+n) of block k, as a range of its content
// file, to load: a function that makes the kernel take the range's pages
// without this process reading them (splice(2) into a pipe, for a FUSE
// reply) and reports whether it took all of them. It succeeds only where a
// read would have served those bytes without checking them: VerifyHits
// off, page-cache-only reads working, every chunk of the range trusted
// (written or checked by this process, or vouched for by a clean stop's
// stamp), the file's descriptor kept open by the cache, and every page of
// the range in the page cache (mincore, which never reads the disk) before
// load runs, with the chunks still trusted after it: a read that goes to
// the disk for them distrusts them first, so pages it read unchecked and
// load took are caught. That is the rule of a Get's page-cache-only read;
// as there, a page evicted by the kernel and read back from the disk by
// someone else between the mincore and load is not.
//
// load gets the content file's descriptor (which it must not close or
// keep) and the range's offset in it. On success the block stays pinned
// until release is called (exactly once). ok is false when the bytes could
// not be lent, or load failed, or the chunks were distrusted meanwhile:
// then whatever load took must be discarded, and the caller reads with Get
// or ReadAt, which check what they must. A false ok is not counted as a
// miss.
func (c *Cache) LendFD(k Key, off int64, n int, load func(fd int, fileOff int64) bool) (release func(), ok bool) {
	if c.verifyHits || c.noWaitOff.Load() || off < 0 || n <= 0 {
		return nil, false
	}
	r, ok := c.lookup(k)
	if !ok {
		return nil, false
	}
	e := r.e
	first, last := int(off/chunkSize), int((off+int64(n)-1)/chunkSize)
	mask := uint32(1<<(last+1) - 1<<first)
	if !r.shared || off+int64(n) > e.size || e.trusted&mask != mask {
		c.release(r)
		return nil, false
	}
	if in, err := resident(r.fd, e.off()+off, n); err != nil || !in || !load(r.fd, e.off()+off) || !c.stillTrusted(e, mask) {
		c.release(r)
		return nil, false
	}
	c.hits.Add(1)
	return func() { c.release(r) }, true
}
