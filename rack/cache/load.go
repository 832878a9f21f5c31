package cache

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// load restores the index persisted by the last Flush and reconciles it with
// Dir/blocks: files the index does not name (or names with another size or
// generation) are removed, entries whose file is missing are dropped, and
// the oldest entries are evicted if the limit shrank. Every loaded chunk is
// untrusted until a read checks it. Problems are logged, never fatal: the
// worst outcome is an empty cache.
func (c *Cache) load() {
	indexPath := filepath.Join(c.dir, indexName)
	os.Remove(indexPath + ".tmp") // left by a crash during Flush
	var (
		nextGen uint64
		recs    []record
	)
	b, err := os.ReadFile(indexPath)
	if err == nil {
		nextGen, recs, err = decodeIndex(b)
	}
	indexBad := err != nil && !errors.Is(err, fs.ErrNotExist)
	if indexBad {
		c.log.Warn("cache index unusable, starting empty and clearing cached blocks",
			slog.String("path", indexPath), slog.Any("err", err))
		nextGen, recs = 0, nil
	}

	want := make(map[Key]*record, len(recs))
	for i := range recs {
		want[recs[i].key] = &recs[i]
	}
	found, removed, maxGen := c.scanBlocks(want)
	nextGen = max(nextGen, maxGen)

	c.mu.Lock()
	defer c.mu.Unlock()
	dropped := 0
	for _, r := range recs { // least recently used first
		if !found[r.key] {
			dropped++
			continue
		}
		e := &entry{key: r.key, gen: r.gen, size: r.size, crcs: r.crcs, synced: true}
		e.path = c.path(e)
		c.used += e.size
		c.insertLocked(e)
	}
	victims := c.evictLocked(0)
	c.nextGen = nextGen
	c.dirty = indexBad || dropped > 0 || len(victims) > 0
	c.unlink(victims)
	c.log.Info("block cache opened", slog.String("dir", c.dir), slog.Int("blocks", len(c.entries)),
		slog.Int64("bytes", c.used), slog.Int64("limit", c.limit), slog.Int("dropped", dropped),
		slog.Int("removed_files", removed), slog.Int("evicted", len(victims)))
}

// scanBlocks walks Dir/blocks, keeps the files want names with the right
// generation and size, and removes everything else. It returns the keys
// kept, how many files it removed and one more than the highest generation
// seen in any block file name.
func (c *Cache) scanBlocks(want map[Key]*record) (found map[Key]bool, removed int, nextGen uint64) {
	found = make(map[Key]bool, len(want))
	root := filepath.Join(c.dir, blocksDir)
	shards, err := os.ReadDir(root)
	if err != nil {
		c.diskErrors.Add(1)
		c.log.Warn("cannot list cached blocks", slog.String("path", root), slog.Any("err", err))
		return found, 0, 0
	}
	remove := func(p string) {
		if err := os.RemoveAll(p); err != nil {
			c.diskErrors.Add(1)
			c.log.Warn("cannot remove stray cache file", slog.String("path", p), slog.Any("err", err))
			return
		}
		removed++
	}
	for _, sh := range shards {
		dir := filepath.Join(root, sh.Name())
		if !sh.IsDir() || !isShardName(sh.Name()) {
			remove(dir)
			continue
		}
		files, err := os.ReadDir(dir)
		if err != nil {
			c.diskErrors.Add(1)
			c.log.Warn("cannot list cached blocks", slog.String("path", dir), slog.Any("err", err))
			continue
		}
		for _, f := range files {
			p := filepath.Join(dir, f.Name())
			k, gen, err := parseName(f.Name())
			if err != nil {
				remove(p)
				continue
			}
			nextGen = max(nextGen, gen+1)
			r := want[k]
			if r == nil || r.gen != gen || k.File.Short(2) != sh.Name() || !f.Type().IsRegular() {
				remove(p)
				continue
			}
			if info, err := f.Info(); err != nil || info.Size() != r.size {
				remove(p)
				continue
			}
			found[k] = true
		}
	}
	return found, removed, nextGen
}

// isShardName reports whether s is two lowercase hex digits.
func isShardName(s string) bool {
	const hex = "0123456789abcdef"
	return len(s) == 2 && strings.IndexByte(hex, s[0]) >= 0 && strings.IndexByte(hex, s[1]) >= 0
}
