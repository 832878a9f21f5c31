package cache

import (
	"hash/crc32"
	"path/filepath"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/internal/lru"
)

// The eviction order (policy.go) is threaded through the index entries, each
// holding its node, under the one lock around index, order and byte
// accounting.

const (
	chunkSize = 64 << 10
	maxChunks = digest.BlockSize / chunkSize
	allChunks = 1<<maxChunks - 1

	filesDir  = "files"
	oldBlocks = "blocks" // the per-block layout of index version 1, removed by Open
	indexName = "index"
	lockName  = "lock"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entry is one cached block. Its mutable fields are guarded by Cache.mu;
// reads work on a copy taken under it.
type entry struct {
	key     Key
	gen     uint64
	size    int64
	crcs    [maxChunks]uint32       // CRC32C of each chunkSize piece of the block
	trusted uint32                  // bit i: chunk i written or verified by this process
	synced  bool                    // bytes fsynced
	file    *cfile                  // the content file holding the block
	node    *lfuNode[digest.Digest] // its place in Cache.order

	// pins counts reads in progress and Backing holders: while pinned,
	// the block's bytes are not punched out of its file, even if the entry
	// leaves the index (removed then records that, and the last unpin
	// punches).
	pins    int
	removed bool
	held    bool // counted in Cache.held: removed while pinned, not punched yet
}

// heldKey names a block in one content file record (a file unlinked and
// created anew is another record).
type heldKey struct {
	f *cfile
	k Key
}

// off returns where the block starts in its content file.
func (e *entry) off() int64 { return e.key.Index * digest.BlockSize }

// cfile is one content file: Dir/files/ab/<sha256hex>, a sparse file with
// block i of the file at offset i*digest.BlockSize. Its fields are guarded
// by Cache.mu.
type cfile struct {
	d       digest.Digest
	path    string
	blocks  int  // index entries in this file
	dirSync bool // the directory entry was fsynced
	pins    int  // pins of its entries (reads and Backing holders)
	backed  int  // Backing holders: the kernel may read the file directly
	marked  bool // its fragile marker is on disk (guarded by Cache.markMu, not mu)

	// The descriptor kept open between reads (fds.go), from when it is
	// kept until it is closed: in Cache.fds, or retired from it and still
	// read.
	kept *lru.Entry[*cfile, int]
}

// chunks returns how many chunks a block of size bytes has.
func chunks(size int64) int { return int((size + chunkSize - 1) / chunkSize) }

// chunkCRCs computes the CRC32C of each chunk of data.
func chunkCRCs(data []byte) (out [maxChunks]uint32) {
	for i := 0; i*chunkSize < len(data); i++ {
		out[i] = crc32.Checksum(data[i*chunkSize:min((i+1)*chunkSize, len(data))], castagnoli)
	}
	return out
}

// filePath returns the content file of d.
func (c *Cache) filePath(d digest.Digest) string {
	return filepath.Join(c.dir, filesDir, d.Short(2), d.String())
}

// fileLocked returns the content file of d, creating its record (not the
// file) if needed. Caller holds c.mu.
func (c *Cache) fileLocked(d digest.Digest) *cfile {
	f := c.files[d]
	if f == nil {
		f = &cfile{d: d, path: c.filePath(d)}
		c.files[d] = f
	}
	return f
}

// insertLocked adds e as just used. Its bytes must already be counted in
// c.used. Caller holds c.mu.
func (c *Cache) insertLocked(e *entry) {
	e.node = c.order.insert(e.key.File, e.key.Index, e.size, e, c.tickLocked())
	c.entries[e.key] = e
	e.file.blocks++
	c.dirty = true
}

// touchLocked records a use of e. Caller holds c.mu.
func (c *Cache) touchLocked(e *entry) {
	c.order.touch(e.node, c.tickLocked())
	c.dirty = true
}

// tickLocked returns the clock of the eviction order: wall time in
// nanoseconds (its window is a second), strictly increasing so that no two
// uses tie. Caller holds c.mu.
func (c *Cache) tickLocked() int64 {
	t := c.now().UnixNano()
	if t <= c.lastTick {
		t = c.lastTick + 1
	}
	c.lastTick = t
	return t
}

// removeLocked drops e from the index and frees its bytes on disk: the
// block's range is punched out of its content file, or, if a read or a
// Backing holder still uses it, by the last of them (release). A content
// file left without blocks is unlinked (an open descriptor keeps reading
// the old inode). The disk work is queued and done after c.mu is released
// (diskwork.go says why it cannot race with a Put). Caller holds c.mu and
// calls c.unlock.
func (c *Cache) removeLocked(e *entry) {
	c.order.remove(e.node)
	delete(c.entries, e.key)
	c.used -= e.size
	c.dirty = true
	if e.pins > 0 {
		c.pinnedBytes -= e.size
	}
	e.removed = true
	f := e.file
	if f.blocks == 1 {
		c.dropHoldLocked(f)
		return
	}
	f.blocks--
	if e.pins > 0 {
		e.held = true
		c.held[heldKey{e.file, e.key}]++
		return
	}
	c.punchLocked(e)
}

// pinLocked starts one use of e. Caller holds c.mu.
func (c *Cache) pinLocked(e *entry) {
	if e.pins == 0 && !e.removed {
		c.pinnedBytes += e.size
	}
	e.pins++
	e.file.pins++
}

// unpinLocked ends one use of e; the last use of a removed entry frees its
// bytes. Caller holds c.mu.
func (c *Cache) unpinLocked(e *entry) {
	e.file.pins--
	if e.pins--; e.pins == 0 && !e.removed {
		c.pinnedBytes -= e.size
	}
	if e.pins > 0 || !e.held {
		return
	}
	e.held = false
	hk := heldKey{e.file, e.key}
	if c.held[hk]--; c.held[hk] == 0 {
		delete(c.held, hk)
	}
	c.punchLocked(e)
}

// punchLocked queues the freeing of removed entry e's disk space (done
// outside the lock, see diskwork.go) when punchableLocked allows it. Caller
// holds c.mu and calls c.unlock.
func (c *Cache) punchLocked(e *entry) {
	if c.punchableLocked(e.file, e.key) {
		c.queueLocked(diskOp{f: e.file, key: e.key})
	}
}

// punchableLocked reports whether block k's slot in content file f may be
// punched: not when its file is gone or another entry (or a Put in flight)
// now owns the same block, or a read still uses an older removed entry of
// it (their bytes are the same, and in use). Nothing is punched after Close
// (the directory may belong to another process by then), nor in a fragile
// file, which a kernel may still read for an earlier process: only
// unlinking it whole is safe (evictLocked does). Caller holds c.mu.
func (c *Cache) punchableLocked(f *cfile, k Key) bool {
	_, busy := c.pending[k]
	return !c.closed && c.files[k.File] == f && c.entries[k] == nil && !busy && c.held[heldKey{f, k}] == 0 &&
		!c.fragile[k.File]
}

// evictLocked evicts entries in the order's victim order (policy.go) until
// need more bytes fit within the limit. Pinned entries (being read, or
// handed out by Backing) are in use: they are passed over. Caller holds
// c.mu.
func (c *Cache) evictLocked(need int64) {
	if c.used+need <= c.limit {
		return // the usual case: skip ordering the files
	}
	c.order.each(func(n *lfuNode[digest.Digest]) bool {
		if c.used+need <= c.limit {
			return false
		}
		e := n.owner.(*entry)
		if e.pins > 0 || c.fragile[e.key.File] && (e.file.pins > 0 || c.putHoldsLocked(e.key.File)) {
			return true
		}
		if c.fragile[e.key.File] {
			c.evictFileLocked(e.file)
			return true
		}
		c.removeLocked(e)
		c.evictions.Add(1)
		return true
	})
}

// evictFileLocked evicts every block of content file f, which unlinks it:
// the way to free a fragile file's space (an unlinked file stays readable
// to whoever has it open). None of its blocks may be pinned, and no Put may
// hold it (the file would stay, its bytes still taking space). Caller holds
// c.mu.
func (c *Cache) evictFileLocked(f *cfile) {
	for _, e := range c.entries {
		if e.file == f {
			c.removeLocked(e)
			c.evictions.Add(1)
		}
	}
	// The file stays fragile until it is really unlinked (dropHoldLocked),
	// which a Put holding it delays.
}

// putHoldsLocked reports whether a Put in flight writes into the file of
// digest d. Caller holds c.mu.
func (c *Cache) putHoldsLocked(d digest.Digest) bool {
	for k := range c.pending {
		if k.File == d {
			return true
		}
	}
	return false
}

// current returns the live entry for k if it is still generation gen.
// Caller holds c.mu.
func (c *Cache) currentLocked(k Key, gen uint64) *entry {
	if e := c.entries[k]; e != nil && e.gen == gen {
		return e
	}
	return nil
}

// unlinkLocked queues the removal of content file f (done outside the
// lock, see diskwork.go), with its fragile marker when marker is set.
// Caller holds c.mu and calls c.unlock.
func (c *Cache) unlinkLocked(f *cfile, marker bool) {
	if c.closed {
		return // the directory may belong to another process now
	}
	c.queueLocked(diskOp{f: f, unlink: true, marker: marker})
}
