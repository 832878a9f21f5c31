package cache

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"sync"

	"golang.org/x/sys/unix"
)

var (
	errChecksum  = errors.New("chunk checksum mismatch")
	errTruncated = errors.New("block file shorter than its entry")
)

// scratch holds buffers for reads that do not start and end on chunk
// boundaries: the covering chunks are read and checked here, then copied.
var scratch = sync.Pool{New: func() any { b := make([]byte, maxChunks*chunkSize); return &b }}

// Get copies the block k into buf and returns its length. ok is false on a
// miss, or when the entry was found torn, corrupt or unreadable (it is then
// discarded and counted, and the caller fetches the block again). Bytes
// that may come from the disk rather than from this process's own writes or
// earlier checks are checked against the index CRCs before Get returns.
// buf must hold the whole block (digest.BlockSize bytes always do); Get
// panics otherwise.
func (c *Cache) Get(k Key, buf []byte) (n int, ok bool) {
	r, ok := c.lookup(k)
	if !ok {
		c.misses.Add(1)
		return 0, false
	}
	if int64(len(buf)) < r.e.size {
		c.release(r)
		panic(fmt.Sprintf("cache: Get of %v into a %d-byte buffer, block has %d bytes", k, len(buf), r.e.size))
	}
	return c.read(r, buf[:r.e.size], 0)
}

// ReadAt copies bytes of block k starting at off into p, the way Get does
// for the whole block, and returns how many: len(p), or fewer when the block
// ends first. Only the 64 KiB chunks covering the range are read and, when
// needed, checked, so serving a 128 KiB FUSE read does not cost a 1 MiB one.
// ok is false as for Get, and when off is negative or past the block's end.
func (c *Cache) ReadAt(k Key, p []byte, off int64) (n int, ok bool) {
	r, ok := c.lookup(k)
	if !ok || off < 0 || off > r.e.size {
		if ok {
			c.release(r)
		}
		c.misses.Add(1)
		return 0, false
	}
	end := min(off+int64(len(p)), r.e.size)
	return c.read(r, p[:end-off], off)
}

// reader is one read's view of an entry: a copy of it taken under the
// lock, the live entry (pinned for the read, so its bytes stay) and the
// content file's descriptor when the file lent its kept one.
type reader struct {
	e      entry
	live   *entry
	fd     int
	shared bool // fd is the file's kept descriptor, referenced by this read
}

// lookup returns a reader for k, pins the entry and marks it most recently
// used.
func (c *Cache) lookup(k Key) (reader, bool) {
	c.mu.Lock()
	defer c.unlock()
	e := c.entries[k]
	if e == nil || c.closed {
		return reader{}, false
	}
	c.touchLocked(e)
	c.pinLocked(e)
	c.inflight.Add(1)
	r := reader{e: *e, live: e, fd: -1}
	if fd, ok := c.acquireFDLocked(e.file); ok {
		r.fd, r.shared = fd, true
	}
	return r, true
}

// release ends r's use of its entry and descriptor.
func (c *Cache) release(r reader) {
	if !r.shared && r.fd >= 0 {
		unix.Close(r.fd)
	}
	c.mu.Lock()
	defer c.unlock()
	if r.shared {
		c.releaseFDLocked(r.live.file)
	}
	c.unpinLocked(r.live)
	c.inflight.Done()
}

// read fills p with the block's bytes at off; p ends within the block. It
// releases r.
func (c *Cache) read(r reader, p []byte, off int64) (int, bool) {
	e := r.e
	if len(p) == 0 {
		c.release(r)
		c.hits.Add(1)
		return 0, true
	}
	if !r.shared {
		c.hook("lookup")
		f, err := openBlock(e.file.path)
		if err != nil {
			c.release(r)
			if outOfFDs(err) {
				c.misses.Add(1) // the block is fine; the process is short of descriptors
				return 0, false
			}
			c.readFailed(e, err)
			return 0, false
		}
		// No readahead on this descriptor: it would pull unchecked
		// bytes from the disk into the page cache, where the residency
		// check of a page-cache-only read (or of LendFD) takes them for
		// the bytes this process wrote or checked. Reads here always
		// name the chunks they need.
		unix.Fadvise(f.fd, 0, 0, unix.FADV_RANDOM)
		kept, current := c.adoptFD(e.file, f.fd)
		r.fd, r.shared = f.fd, kept
		if !current {
			// The file was unlinked (its last block evicted) and
			// perhaps created anew: the bytes opened are not the
			// entry's. An ordinary miss.
			c.release(r)
			c.misses.Add(1)
			return 0, false
		}
	}
	defer c.release(r)
	f := blockFile{fd: r.fd, path: e.file.path}
	c.hook("open")
	base := e.off()

	first, last := int(off/chunkSize), int((off+int64(len(p))-1)/chunkSize)
	mask := uint32(1<<(last+1) - 1<<first)

	if !c.verifyHits && e.trusted&mask == mask && !c.noWaitOff.Load() {
		done, err := f.readCached(p, base+off)
		if errors.Is(err, errNoWaitUnsupported) {
			if c.noWaitOff.CompareAndSwap(false, true) {
				c.log.Info("page-cache-only reads unsupported here: checking every read", slog.String("dir", c.dir))
			}
		} else if err != nil {
			c.readFailed(e, err)
			return 0, false
		}
		if done && c.stillTrusted(e, mask) {
			c.hits.Add(1)
			return len(p), true
		}
	}

	// The bytes may come from the disk: read the covering chunks and check.
	lo, hi := int64(first)*chunkSize, min(int64(last+1)*chunkSize, e.size)
	dst, aligned := p, lo == off && hi == off+int64(len(p))
	if !aligned {
		b := scratch.Get().(*[]byte)
		defer scratch.Put(b)
		dst = (*b)[:hi-lo]
	}
	// The chunks' pages may now come from the disk into the page cache,
	// unchecked until the CRCs below pass: until then no other read may
	// take them for trusted page-cache bytes.
	c.mu.Lock()
	if live := c.currentLocked(e.key, e.gen); live != nil {
		live.trusted &^= mask
	}
	c.mu.Unlock()
	if err := f.readFull(dst, base+lo); err != nil {
		c.readFailed(e, err)
		return 0, false
	}
	for i := first; i <= last; i++ {
		piece := dst[int64(i-first)*chunkSize : min(int64(i-first+1)*chunkSize, hi-lo)]
		if crc32.Checksum(piece, castagnoli) != e.crcs[i] {
			c.readFailed(e, fmt.Errorf("chunk %d: %w", i, errChecksum))
			return 0, false
		}
	}
	if !aligned {
		copy(p, dst[off-lo:])
	}
	c.mu.Lock()
	if live := c.currentLocked(e.key, e.gen); live != nil {
		live.trusted |= mask

	}
	c.unlock()
	c.hits.Add(1)
	return len(p), true
}

// stillTrusted reports whether the chunks in mask of e's live entry are
// still trusted: a read that found their pages in the page cache checks
// this afterwards, because a concurrent read that went to the disk for
// them distrusts them first (until their CRCs pass), and its unchecked
// pages would have looked cached.
func (c *Cache) stillTrusted(e entry, mask uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	live := c.currentLocked(e.key, e.gen)
	return live != nil && live.trusted&mask == mask
}

// hook calls the test hook, if any, at a stage of a read.
func (c *Cache) hook(stage string) {
	if c.testHook != nil {
		c.testHook(stage)
	}
}

// readFailed handles a failed read of e: a vanished file whose entry was
// evicted meanwhile is a plain miss; anything else discards the entry and
// counts it, as corrupt (checksum, short or missing file) or as a disk error.
func (c *Cache) readFailed(e entry, err error) {
	c.misses.Add(1)
	c.mu.Lock()
	live := c.currentLocked(e.key, e.gen)
	if live != nil {
		c.removeLocked(live)
	}
	c.unlock()
	if live == nil {
		return // evicted or discarded by someone else while we looked
	}
	kind := "corrupt"
	if errors.Is(err, errChecksum) || errors.Is(err, errTruncated) || errors.Is(err, fs.ErrNotExist) {
		c.corrupt.Add(1)
	} else {
		kind = "unreadable"
		c.diskErrors.Add(1)
	}
	c.log.Warn("discarding "+kind+" cached block", append(e.key.attrs(), slog.String("path", e.file.path), slog.Any("err", err))...)
}
