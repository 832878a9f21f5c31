package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bootfs/bootfs/internal/digest"
)

// index is the in-memory account of what Dir holds, so that Usage (and the
// gauges built on it) cost nothing. It is built by scan at Open, rebuilt by
// Reconcile and kept current by Commit, Remove and Quarantine.
type index struct {
	sizes       map[digest.Digest]int64
	bytes       int64
	quarantined int
}

func (x *index) set(dg digest.Digest, size int64) {
	if old, ok := x.sizes[dg]; ok {
		x.bytes -= old
	}
	x.sizes[dg] = size
	x.bytes += size
}

func (x *index) remove(dg digest.Digest) {
	if old, ok := x.sizes[dg]; ok {
		x.bytes -= old
		delete(x.sizes, dg)
	}
}

// blobName reports whether name is one of our blob names (64 lowercase
// hex digits) and returns the digest it spells.
func blobName(name string) (digest.Digest, bool) {
	if len(name) != 2*digest.Size {
		return digest.Digest{}, false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return digest.Digest{}, false
		}
	}
	dg, err := digest.Parse(name)
	return dg, err == nil
}

// readDir lists a directory without sorting it (sorting 10,000 names is
// wasted work here).
func readDir(dir string) ([]os.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// scan builds the index from the directory: regular files with blob names
// in Dir, and every entry of Dir/.quarantine.
func (d *Disk) scan() (index, error) {
	x := index{sizes: make(map[digest.Digest]int64)}
	ents, err := readDir(d.dir)
	if err != nil {
		return x, fmt.Errorf("store: %w", err)
	}
	for _, e := range ents {
		dg, ok := blobName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since readdir
		}
		if err != nil {
			return x, fmt.Errorf("store: %w", err)
		}
		x.set(dg, fi.Size())
	}
	q, err := readDir(filepath.Join(d.dir, quarantineDir))
	if err != nil {
		return x, fmt.Errorf("store: %w", err)
	}
	x.quarantined = len(q)
	return x, nil
}
