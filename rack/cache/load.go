package cache

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
)

// load restores the index persisted by the last Flush and reconciles it with
// Dir/files: files the index does not name are removed, entries whose file
// is missing or too short are dropped, space held by blocks the index does
// not list is freed, and the oldest entries are evicted if the limit
// shrank. Every loaded chunk is untrusted until a read checks it. Problems are logged, never fatal: the
// worst outcome is an empty cache. It reports whether it trusted blocks
// because of stamps (the caller then rewrites the index without them).
func (c *Cache) load() (stamped bool) {
	indexPath := filepath.Join(c.dir, indexName)
	os.Remove(indexPath + ".tmp") // left by a crash during Flush
	var (
		nextGen uint64
		recs    []record
		stamps  map[digest.Digest]stamp
	)
	b, err := os.ReadFile(indexPath)
	if err == nil {
		nextGen, recs, stamps, err = decodeIndex(b)
	}
	indexBad := err != nil && !errors.Is(err, fs.ErrNotExist)
	if indexBad {
		c.log.Warn("cache index unusable, starting empty and clearing cached blocks",
			slog.String("path", indexPath), slog.Any("err", err))
		nextGen, recs, stamps = 0, nil, nil
	}

	want := make(map[Key]*record, len(recs))
	for i := range recs {
		want[recs[i].key] = &recs[i]
	}
	if err := os.RemoveAll(filepath.Join(c.dir, oldBlocks)); err != nil {
		c.log.Warn("cannot remove the old block layout", slog.String("path", filepath.Join(c.dir, oldBlocks)), slog.Any("err", err))
	}
	marked := c.readFragile()
	found, unchanged, removed := c.scanFiles(want, stamps, marked)

	c.mu.Lock()
	defer c.unlock()
	dropped := 0
	for _, r := range recs { // the next victim first
		if !found[r.key] {
			dropped++
			continue
		}
		f := c.fileLocked(r.key.File)
		f.dirSync = true
		e := &entry{key: r.key, gen: r.gen, size: r.size, crcs: r.crcs, synced: true, file: f}
		if unchanged[r.key.File] {
			e.trusted = uint32(1)<<chunks(e.size) - 1
			stamped = true
		}
		c.used += e.size
		c.insertLocked(e)
	}
	c.loadFragile(marked)
	before := c.evictions.Load()
	c.evictLocked(0)
	evicted := c.evictions.Load() - before
	c.evictions.Store(before) // a smaller limit at start is not churn
	c.nextGen = nextGen
	c.dirty = indexBad || dropped > 0 || evicted > 0 || stamped
	c.log.Info("block cache opened", slog.String("dir", c.dir), slog.Int("blocks", len(c.entries)),
		slog.Int64("bytes", c.used), slog.Int64("limit", c.limit), slog.Int("dropped", dropped),
		slog.Int("removed_files", removed), slog.Int64("evicted", evicted), slog.Bool("trusted_from_stamps", stamped))
	return stamped
}

// scanFiles walks Dir/files, keeps the content files want names blocks of
// (blocks that end past the file's end are not found), frees the space of
// blocks it does not name, and removes everything else. It returns the
// keys found, the files whose stamp in stamps still matches (before any
// space was freed), and how many files it removed. Nothing is freed inside
// a fragile file.
func (c *Cache) scanFiles(want map[Key]*record, stamps map[digest.Digest]stamp, fragile map[digest.Digest]bool) (found map[Key]bool, unchanged map[digest.Digest]bool, removed int) {
	found = make(map[Key]bool, len(want))
	unchanged = make(map[digest.Digest]bool)
	byFile := make(map[digest.Digest][]*record)
	for _, r := range want {
		byFile[r.key.File] = append(byFile[r.key.File], r)
	}
	root := filepath.Join(c.dir, filesDir)
	shards, err := os.ReadDir(root)
	if err != nil {
		c.diskErrors.Add(1)
		c.log.Warn("cannot list cached files", slog.String("path", root), slog.Any("err", err))
		return found, unchanged, 0
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
			c.log.Warn("cannot list cached files", slog.String("path", dir), slog.Any("err", err))
			continue
		}
		for _, f := range files {
			p := filepath.Join(dir, f.Name())
			d, err := digest.Parse(f.Name())
			recs := byFile[d]
			if err != nil || len(recs) == 0 || d.Short(2) != sh.Name() || !f.Type().IsRegular() {
				remove(p)
				continue
			}
			var st unix.Stat_t
			if err := unix.Stat(p, &st); err != nil {
				remove(p)
				continue
			}
			var listed int64
			for _, r := range recs {
				if r.key.Index*digest.BlockSize+r.size <= st.Size {
					found[r.key] = true
					listed += r.size
				}
			}
			if listed == 0 {
				remove(p)
				continue
			}
			if want, ok := stamps[d]; ok && want == stampOf(&st) {
				unchanged[d] = true
			}
			if !fragile[d] { // a kernel may still read it whole
				c.punchUnlisted(p, found, d)
			}
		}
	}
	return found, unchanged, removed
}

// punchUnlisted frees the space of every block of the content file p (of
// digest d) that holds data but that found does not list: blocks a crash
// left behind between their write and the next Flush. It finds them with
// SEEK_DATA, so a file without such blocks costs a few lseeks.
func (c *Cache) punchUnlisted(p string, found map[Key]bool, d digest.Digest) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return // the first read of its blocks will tell
	}
	defer unix.Close(fd)
	for off := int64(0); ; {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err != nil {
			return // ENXIO: no data past off
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return
		}
		for i := start / digest.BlockSize; i*digest.BlockSize < end; i++ {
			if found[Key{File: d, Index: i}] {
				continue
			}
			if err := punch(p, i*digest.BlockSize, digest.BlockSize); err != nil {
				c.diskErrors.Add(1)
				c.log.Warn("cannot free unlisted cached blocks", slog.String("path", p), slog.Any("err", err))
				return
			}
		}
		off = end
	}
}

// isShardName reports whether s is two lowercase hex digits.
func isShardName(s string) bool {
	const hex = "0123456789abcdef"
	return len(s) == 2 && strings.IndexByte(hex, s[0]) >= 0 && strings.IndexByte(hex, s[1]) >= 0
}
