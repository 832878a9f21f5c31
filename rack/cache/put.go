package cache

import (
	"fmt"
	"log/slog"

	"github.com/bootfs/bootfs/internal/digest"
)

// Put stores block k, whose bytes the caller has already verified against
// the region's block digest. It is a no-op when k is cached or being stored
// by another Put. Least recently used blocks are evicted first so the
// cache stays within its limit. A disk error (ENOSPC, EIO) is returned, the
// caller keeps serving from the network, and the cache rests: further Puts
// fail fast with ErrDegraded for Options.DegradedFor. Put does not keep data.
func (c *Cache) Put(k Key, data []byte) error {
	size := int64(len(data))
	if size == 0 || size > digest.BlockSize || k.Index < 0 {
		return fmt.Errorf("cache: put %v: invalid block of %d bytes", k, size)
	}
	if size > c.limit {
		return fmt.Errorf("cache: put %v: block of %d bytes exceeds the cache limit of %d", k, size, c.limit)
	}
	crcs := chunkCRCs(data)

	c.mu.Lock()
	// A punch or unlink of this file queued or running finishes first.
	c.waitDiskLocked(k.File)
	switch _, busy := c.pending[k]; {
	case c.closed:
		c.unlock()
		return ErrClosed
	case c.entries[k] != nil:
		c.touchLocked(c.entries[k])
		c.unlock()
		return nil
	case busy:
		c.unlock()
		return nil
	case c.now().Before(c.degradedUntil):
		c.unlock()
		return fmt.Errorf("cache: put %v: %w", k, ErrDegraded)
	}
	// Hold the content file (so that evicting its other blocks does not
	// unlink it under the write), then reserve the bytes before writing, so
	// the disk never holds more than the limit plus what readers still use.
	if c.pinnedBytes+c.pendingBytes+size > c.limit {
		// Evicting every unpinned block would not make room.
		c.unlock()
		return fmt.Errorf("cache: put %v: %w", k, ErrNoRoom)
	}
	f := c.fileLocked(k.File)
	f.blocks++
	c.pending[k] = struct{}{} // before evicting: the file is being written
	c.evictLocked(size)
	if c.used+size > c.limit { // the rest is reserved by other puts in flight
		delete(c.pending, k)
		c.dropHoldLocked(f)
		c.unlock()
		return fmt.Errorf("cache: put %v: %w", k, ErrNoRoom)
	}
	c.used += size
	c.pendingBytes += size
	e := &entry{key: k, gen: c.nextGen, size: size, crcs: crcs, trusted: allChunks, file: f}
	c.nextGen++
	c.unlock()

	mode, refused, err := writeAt(f.path, e.off(), data, c.direct.Load())
	if refused && c.direct.Swap(false) {
		c.log.Info("the cache directory's file system refuses O_DIRECT: writing blocks through the page cache", slog.String("dir", c.dir))
	}
	if err == nil {
		c.writes[mode].Add(1)
	}

	c.mu.Lock()
	defer c.unlock()
	delete(c.pending, k)
	c.pendingBytes -= size
	switch {
	case err != nil:
		err = fmt.Errorf("cache: put %v: %w", k, err)
		c.degradeLocked(err)
	case c.closed:
		err = ErrClosed // Close has flushed; the block would be orphaned
	default:
		c.insertLocked(e)
		c.dropHoldLocked(f)
		return nil
	}
	c.used -= size
	// Free whatever the failed write left, as a removed entry.
	e.removed = true
	c.punchLocked(e)
	c.dropHoldLocked(f)
	return err
}

// dropHoldLocked ends a Put's hold on content file f, unlinking it (queued,
// see diskwork.go) if it holds no block. Caller holds c.mu and calls
// c.unlock.
func (c *Cache) dropHoldLocked(f *cfile) {
	if f.blocks--; f.blocks == 0 {
		c.dropFDLocked(f)
		current := c.files[f.d] == f
		if current {
			delete(c.files, f.d)
			// Whoever still reads it reads the unlinked inode: it
			// needs no marker any more.
			delete(c.fragile, f.d)
		}
		c.unlinkLocked(f, current)
	}
}

// degradeLocked starts (or extends) a rest after a disk error, logging
// the state change once per rest. Caller holds c.mu.
func (c *Cache) degradeLocked(err error) {
	c.diskErrors.Add(1)
	now := c.now()
	if !now.Before(c.degradedUntil) {
		c.log.Warn("block cache degraded: not caching new blocks for a while",
			slog.Duration("for", c.degradedFor), slog.Any("err", err))
	}
	c.degradedUntil = now.Add(c.degradedFor)
}
