package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

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
	switch _, busy := c.pending[k]; {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.entries[k] != nil:
		c.touchLocked(c.entries[k])
		c.mu.Unlock()
		return nil
	case busy:
		c.mu.Unlock()
		return nil
	case c.now().Before(c.degradedUntil):
		c.mu.Unlock()
		return fmt.Errorf("cache: put %v: %w", k, ErrDegraded)
	}
	// Reserve the bytes before writing, so the disk never holds more than
	// the limit plus what readers still have open.
	victims := c.evictLocked(size)
	if c.used+size > c.limit { // the rest is reserved by other puts in flight
		c.mu.Unlock()
		c.unlink(victims)
		return fmt.Errorf("cache: put %v: no room, the cache is full of blocks being stored", k)
	}
	c.used += size
	c.pending[k] = struct{}{}
	e := &entry{key: k, gen: c.nextGen, size: size, crcs: crcs, trusted: allChunks}
	e.path = c.path(e)
	c.nextGen++
	c.mu.Unlock()
	c.unlink(victims)

	err := writeBlock(e.path, data)

	c.mu.Lock()
	delete(c.pending, k)
	switch {
	case err != nil:
		err = fmt.Errorf("cache: put %v: %w", k, err)
		c.degradeLocked(err)
	case c.closed:
		err = ErrClosed // Close has flushed; the file would be orphaned
	default:
		c.insertLocked(e)
		c.mu.Unlock()
		return nil
	}
	c.used -= size
	c.mu.Unlock()
	c.unlink([]string{e.path})
	return err
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

// writeBlock creates path (which must not exist: names are never reused)
// and writes data to it. It does not fsync; Flush does before the file is
// listed in a persisted index. On error the caller removes path.
func writeBlock(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrNotExist) { // first block in this shard
		if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
