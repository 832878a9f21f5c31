package cache

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Flush persists the index and LRU order now. Block files added since the
// last Flush are fsynced, with their directories, before the index naming
// them is written (temp file, fsync, rename, fsync of Dir), so a persisted
// index never names bytes that are not on the disk. A block whose sync fails
// is left out of this index and retried next time. Flush is cheap when
// nothing changed; the owner calls it periodically, and Close calls it.
func (c *Cache) Flush() error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if !c.dirty {
		c.mu.Unlock()
		return nil
	}
	c.dirty = false
	recs := make([]record, 0, len(c.entries))
	var unsynced []entry
	for el := c.lru.Back(); el != nil; el = el.Prev() {
		e := el.Value.(*entry)
		recs = append(recs, record{key: e.key, gen: e.gen, size: e.size, crcs: e.crcs})
		if !e.synced {
			unsynced = append(unsynced, *e)
		}
	}
	nextGen := c.nextGen
	c.mu.Unlock()

	synced, drop, syncErr := c.syncBlocks(unsynced)
	if len(drop) > 0 {
		kept := recs[:0]
		for _, r := range recs {
			if !drop[r.key] {
				kept = append(kept, r)
			}
		}
		recs = kept
	}
	err := writeIndex(c.dir, encodeIndex(nextGen, recs))
	if err != nil {
		c.diskErrors.Add(1)
	}

	c.mu.Lock()
	for _, e := range synced {
		if live := c.currentLocked(e.key, e.gen); live != nil {
			live.synced = true
		}
	}
	if err != nil || syncErr != nil {
		c.dirty = true // try again next time
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return syncErr
}

// syncBlocks fsyncs the files of entries and then their directories. It
// returns the entries now durable, the keys to leave out of the index
// (failed, or evicted meanwhile) and the first real error.
func (c *Cache) syncBlocks(entries []entry) (synced []entry, drop map[Key]bool, err error) {
	drop = make(map[Key]bool)
	byDir := make(map[string][]entry)
	for _, e := range entries {
		p := e.path
		if serr := syncPath(p); serr != nil {
			drop[e.key] = true
			if !errors.Is(serr, fs.ErrNotExist) {
				c.diskErrors.Add(1)
				err = cmp.Or(err, fmt.Errorf("cache: flush: %w", serr))
			}
			continue
		}
		byDir[filepath.Dir(p)] = append(byDir[filepath.Dir(p)], e)
	}
	// The shard directories themselves are created lazily by Put.
	var rootErr error
	if len(byDir) > 0 {
		rootErr = syncPath(filepath.Join(c.dir, blocksDir))
	}
	for dir, es := range byDir {
		serr := rootErr
		if serr == nil {
			serr = syncPath(dir)
		}
		if serr != nil {
			c.diskErrors.Add(1)
			err = cmp.Or(err, fmt.Errorf("cache: flush: %w", serr))
			for _, e := range es {
				drop[e.key] = true
			}
			continue
		}
		synced = append(synced, es...)
	}
	return synced, drop, err
}

// syncPath fsyncs a file or directory.
func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeIndex replaces dir/index with b atomically: temp file, fsync,
// rename, fsync of dir.
func writeIndex(dir string, b []byte) (err error) {
	final := filepath.Join(dir, indexName)
	tmp := final + ".tmp"
	defer func() {
		if err != nil {
			os.Remove(tmp)
			err = fmt.Errorf("cache: write index: %w", err)
		}
	}()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return syncPath(dir)
}
