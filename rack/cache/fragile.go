package cache

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/bootfs/bootfs/internal/digest"
)

// Fragile files. A file handed out by Backing is read by the kernel
// directly, and the kernel keeps reading it after this process is gone if
// the mount was detached lazily with files open, or if the process died.
// A later process must then never punch that file's slots (the readers
// would read zeros); unlinking the whole file is safe, as they hold the
// inode. Before the first Backing of a file hands out its descriptor, a
// marker Dir/fragile/<sha256> holding the boot id is made durable. Open
// treats the files marked in this boot as fragile: nothing in them is
// punched, and eviction unlinks them whole. Markers of another boot are
// removed (no reader outlives a reboot), as are those of files this
// process handed out and all of whose holders let go (at Flush and Close),
// and those of unlinked files.

const fragileDir = "fragile"

// bootID identifies this boot of the kernel ("" if unknown: every marker
// then counts as current).
func bootID() []byte {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return bytes.TrimSpace(b)
}

func (c *Cache) markerPath(d digest.Digest) string {
	return filepath.Join(c.dir, fragileDir, d.String())
}

// readFragile returns the files marked fragile in this boot and removes
// the markers of earlier boots and stray names.
func (c *Cache) readFragile() map[digest.Digest]bool {
	dir := filepath.Join(c.dir, fragileDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("cannot list fragile file markers", slog.String("dir", dir), slog.Any("err", err))
		}
		return nil
	}
	boot := bootID()
	out := make(map[digest.Digest]bool, len(ents))
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		d, err := digest.Parse(e.Name())
		if err == nil {
			b, rerr := os.ReadFile(p)
			if rerr != nil || len(boot) == 0 || bytes.Equal(bytes.TrimSpace(b), boot) {
				out[d] = true // unreadable: keep it fragile, to be safe
				continue
			}
		}
		os.Remove(p)
	}
	return out
}

// loadFragile makes the marked files that are still cached fragile and
// removes the other markers. Caller holds c.mu.
func (c *Cache) loadFragile(marked map[digest.Digest]bool) {
	for d := range marked {
		if c.files[d] != nil {
			c.fragile[d] = true
			continue
		}
		os.Remove(c.markerPath(d))
	}
	if len(c.fragile) > 0 {
		c.log.Info("cached files a kernel may still read for an earlier process: evicted whole, never punched",
			slog.Int("files", len(c.fragile)))
	}
}

// markFragile makes sure f's marker is on disk before its descriptor goes
// to the kernel.
func (c *Cache) markFragile(f *cfile) error {
	c.markMu.Lock()
	defer c.markMu.Unlock()
	if f.marked {
		return nil
	}
	dir := filepath.Join(c.dir, fragileDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p := c.markerPath(f.d)
	if err := os.WriteFile(p, append(bootID(), '\n'), 0o644); err != nil {
		return err
	}
	if err := syncPath(dir); err != nil {
		os.Remove(p)
		return err
	}
	f.marked = true
	return nil
}

// unmarkReleased removes the markers of files this process marked whose
// Backing holders all let go (fragile files of an earlier process keep
// theirs).
func (c *Cache) unmarkReleased() {
	c.markMu.Lock()
	defer c.markMu.Unlock()
	// The markers are removed outside c.mu (reads never wait behind the
	// unlinks); f.marked is guarded by markMu, held throughout. A Backing
	// holder that comes meanwhile marks again under markMu, so it waits.
	c.mu.Lock()
	var done []*cfile
	for d, f := range c.files {
		if f.marked && f.backed == 0 && !c.fragile[d] {
			done = append(done, f)
		}
	}
	c.unlock()
	for _, f := range done {
		if err := os.Remove(c.markerPath(f.d)); err == nil || errors.Is(err, fs.ErrNotExist) {
			f.marked = false
		}
	}
}
