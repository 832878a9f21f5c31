package cache

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
)

// Flush persists the index and eviction order now. Content files with blocks
// added since the last Flush are fsynced, with the directories of new
// ones, before the index naming those blocks is written (temp file, fsync,
// rename, fsync of Dir), so a persisted index never names bytes that are
// not on the disk. A file whose fsync fails has its blocks discarded (the
// error may be reported only once: a later fsync could succeed on lost
// pages) and the cache rests as after any disk error. Flush is cheap when
// nothing changed; the owner calls it periodically, and Close calls it.
func (c *Cache) Flush() error { return c.flush(false) }

// flush is Flush; final is Close's last one, run after c.closed is set and
// the reads in flight are done (so no listed block can change any more: no
// block is added, discarded, punched or unlinked), which also stamps the
// content files whose listed blocks were all written or checked by this
// process, with a stat taken after their fsync (writeback may allocate
// extent blocks). Open trusts the blocks of a file whose stamp still
// matches, and rewrites the index without stamps before it changes
// anything, so a stamp only ever describes a file as a clean shutdown left
// it. A Put still finishing writes only a slot the index does not list.
func (c *Cache) flush(final bool) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()

	c.mu.Lock()
	if !final && c.closed {
		c.unlock()
		return ErrClosed
	}
	if !final && !c.dirty {
		c.unlock()
		c.unmarkReleased()
		return nil
	}
	var paths map[digest.Digest]string
	if final {
		paths = make(map[digest.Digest]string, len(c.files))
		for d, f := range c.files {
			paths[d] = f.path
		}
	}
	c.dirty = false
	recs := make([]record, 0, len(c.entries))
	var unsynced []entry
	newFiles := make(map[*cfile]bool)
	trusted := make(map[digest.Digest]bool, len(c.files))
	var es []*entry // in eviction order, the next victim first
	c.order.each(func(n *lfuNode[digest.Digest]) bool {
		es = append(es, n.owner.(*entry))
		return true
	})
	for _, e := range es {
		recs = append(recs, record{key: e.key, gen: e.gen, size: e.size, crcs: e.crcs})
		if t, seen := trusted[e.key.File]; t || !seen {
			mask := uint32(1)<<chunks(e.size) - 1
			trusted[e.key.File] = e.trusted&mask == mask
		}
		if !e.synced {
			unsynced = append(unsynced, *e)
			if !e.file.dirSync {
				newFiles[e.file] = true
			}
		}
	}
	nextGen := c.nextGen
	c.unlock()

	synced, drop, failed, syncErr := c.syncBlocks(unsynced, newFiles)
	if len(drop) > 0 {
		kept := recs[:0]
		for _, r := range recs {
			if !drop[r.key] {
				kept = append(kept, r)
			} else {
				trusted[r.key.File] = false
			}
		}
		recs = kept
	}
	var stamps map[digest.Digest]stamp
	if final {
		for d := range paths {
			if !trusted[d] {
				delete(paths, d)
			}
		}
		stamps = stampFiles(paths)
	}
	err := writeIndex(c.dir, encodeIndex(nextGen, recs, stamps))
	if err != nil {
		c.diskErrors.Add(1)
	}

	c.mu.Lock()
	for _, e := range synced {
		if live := c.currentLocked(e.key, e.gen); live != nil {
			live.synced = true
			live.file.dirSync = true
		}
	}
	if len(failed) > 0 {
		c.discardFilesLocked(failed, syncErr)
	}
	if err != nil || syncErr != nil {
		c.dirty = true // try again next time
	}
	c.unlock()
	c.unmarkReleased()
	if err != nil {
		return err
	}
	return syncErr
}

// discardFilesLocked drops every block of the content files whose fsync
// failed: what reached the disk is unknown, and the kernel may not report
// the error again. It starts a rest, as any disk error does. Caller holds
// c.mu.
func (c *Cache) discardFilesLocked(failed map[*cfile]bool, err error) {
	n := 0
	for _, e := range c.entries {
		if failed[e.file] {
			c.removeLocked(e)
			n++
		}
	}
	c.degradeLocked(err)
	c.log.Warn("discarded cached blocks after a failed fsync", slog.Int("blocks", n), slog.Any("err", err))
}

// syncBlocks fsyncs the content files of entries, and the directories of
// the files in newFiles. It returns the entries now durable, the keys to
// leave out of the index (failed, or their file removed meanwhile), the
// files whose fsync failed and the first real error.
func (c *Cache) syncBlocks(entries []entry, newFiles map[*cfile]bool) (synced []entry, drop map[Key]bool, failed map[*cfile]bool, err error) {
	drop = make(map[Key]bool)
	failed = make(map[*cfile]bool)
	byFile := make(map[*cfile][]entry)
	for _, e := range entries {
		byFile[e.file] = append(byFile[e.file], e)
	}
	fail := func(f *cfile, es []entry, serr error) {
		for _, e := range es {
			drop[e.key] = true
		}
		if !errors.Is(serr, fs.ErrNotExist) {
			failed[f] = true
			c.diskErrors.Add(1)
			err = cmp.Or(err, fmt.Errorf("cache: flush: %w", serr))
		}
	}
	// The shard directories themselves are created lazily by Put.
	var rootErr error
	if len(newFiles) > 0 {
		rootErr = syncPath(filepath.Join(c.dir, filesDir))
	}
	dirDone := make(map[string]error)
	for f, es := range byFile {
		if serr := c.syncFile(f.path); serr != nil {
			fail(f, es, serr)
			continue
		}
		if newFiles[f] {
			dir := filepath.Dir(f.path)
			serr, done := dirDone[dir]
			if !done {
				serr = cmp.Or(rootErr, syncPath(dir))
				dirDone[dir] = serr
			}
			if serr != nil {
				fail(f, es, serr)
				continue
			}
		}
		synced = append(synced, es...)
	}
	return synced, drop, failed, err
}

// stampFiles stats the content files in paths; files it cannot stat are
// left out.
func stampFiles(paths map[digest.Digest]string) map[digest.Digest]stamp {
	out := make(map[digest.Digest]stamp, len(paths))
	for d, p := range paths {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil {
			out[d] = stampOf(&st)
		}
	}
	return out
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
