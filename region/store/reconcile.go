package store

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
)

// PartialMaxAge is how long an untouched partial file is kept for a resume;
// Reconcile removes older ones.
var PartialMaxAge = 7 * 24 * time.Hour

// Report is what Reconcile found and did. Paths are absolute.
type Report struct {
	// Removed lists the files removed: blobs the database does not know,
	// temporary files, partial files older than PartialMaxAge, bootloader
	// links whose blob is gone.
	Removed []string
	// Missing lists known blobs with no file.
	Missing []digest.Digest
	// WrongSize lists known blobs whose file had another size; those files
	// were quarantined. Missing and WrongSize blobs must be fetched again.
	WrongSize []digest.Digest
	// Foreign lists entries that are not ours; they were left alone.
	Foreign []string
	// Kept counts the blob files kept.
	Kept int
	// Partials counts the partial files kept for resuming.
	Partials int
}

// Reconcile makes the directory agree with the database at start-up.
// known maps every digest the database says this region holds to its
// size. Reconcile removes blob files not in known (except those committed
// by this Disk since Open), leftover temporary files, partial files older
// than PartialMaxAge and bootloader links whose blob is gone; it
// quarantines known blobs of the wrong size and reports them and the
// missing ones. It never touches an entry that is not ours (see the package
// documentation): it logs it and reports it in Foreign. It reads only
// directory entries and sizes, never file contents. Errors removing single
// entries do not stop it; they are joined into the returned error.
func (d *Disk) Reconcile(known map[digest.Digest]int64) (Report, error) {
	start := time.Now()
	var rep Report
	ents, err := readDir(d.dir)
	if err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	d.linkMu.Lock()
	defer d.linkMu.Unlock()
	fresh, busy := d.freshAndBusy()

	var errs []error
	present := make(map[digest.Digest]bool, len(known))
	wrong := make(map[digest.Digest]bool)
	for _, e := range ents {
		name := e.Name()
		switch {
		case name == partialDir && e.IsDir():
			errs = append(errs, d.reconcilePartials(&rep, busy))
			continue
		case name == tmpDir && e.IsDir():
			errs = append(errs, d.reconcileTmp(&rep))
			continue
		case (name == quarantineDir || name == bootloaderDir) && e.IsDir(),
			name == manifestName && e.Type().IsRegular(),
			name == instanceName && e.Type().IsRegular():
			continue // quarantine is kept; bootloaders come last
		}
		errs = append(errs, d.reconcileBlob(&rep, e, known, fresh, present, wrong))
	}
	for dg := range known {
		if !present[dg] && !wrong[dg] {
			rep.Missing = append(rep.Missing, dg)
		}
	}
	d.forgetVanished(present)
	errs = append(errs, d.reconcileLinks(&rep, present))
	if len(rep.Removed) > 0 {
		errs = append(errs, syncDir(d.dir))
	}
	d.finishReport(&rep, start)
	return rep, errors.Join(errs...)
}

// freshAndBusy copies the sets of blobs written since the last reconcile
// and of blobs being written now.
func (d *Disk) freshAndBusy() (fresh, busy map[digest.Digest]struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fresh = make(map[digest.Digest]struct{}, len(d.fresh))
	for dg := range d.fresh {
		fresh[dg] = struct{}{}
	}
	busy = make(map[digest.Digest]struct{}, len(d.writers))
	for dg := range d.writers {
		busy[dg] = struct{}{}
	}
	return fresh, busy
}

// reconcileBlob checks one entry of the store's top directory against the
// database: an unknown blob is removed, one of the wrong size quarantined,
// the rest kept (marked in present) and indexed. Anything else is foreign.
func (d *Disk) reconcileBlob(rep *Report, e fs.DirEntry, known map[digest.Digest]int64,
	fresh map[digest.Digest]struct{}, present, wrong map[digest.Digest]bool) error {
	p := filepath.Join(d.dir, e.Name())
	dg, ok := blobName(e.Name())
	if !ok || !e.Type().IsRegular() {
		rep.Foreign = append(rep.Foreign, p)
		return nil
	}
	fi, err := e.Info()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	size, isKnown := known[dg]
	_, isFresh := fresh[dg]
	switch {
	case !isKnown && !isFresh:
		if err := removeEntry(rep, p); err != nil {
			return err
		}
		d.mu.Lock()
		d.idx.remove(dg)
		d.mu.Unlock()
	case isKnown && fi.Size() != size:
		wrong[dg] = true
		rep.WrongSize = append(rep.WrongSize, dg)
		reason := fmt.Sprintf("size %d, the database says %d", fi.Size(), size)
		if err := d.quarantineLocked(dg, reason, fi); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	default:
		present[dg] = true
		rep.Kept++
		d.mu.Lock()
		d.idx.set(dg, fi.Size())
		d.mu.Unlock()
	}
	return nil
}

// forgetVanished drops from the index the blobs that are neither present
// nor fresh: gone from disk behind our back.
func (d *Disk) forgetVanished(present map[digest.Digest]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for dg := range d.idx.sizes {
		if _, ok := d.fresh[dg]; !ok && !present[dg] {
			d.idx.remove(dg)
		}
	}
}

// removeEntry removes the file p (already gone is fine) and records it in
// rep.Removed.
func removeEntry(rep *Report, p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reconcile: %w", err)
	}
	rep.Removed = append(rep.Removed, p)
	return nil
}

// reconcilePartials removes partial files older than PartialMaxAge.
func (d *Disk) reconcilePartials(rep *Report, busy map[digest.Digest]struct{}) error {
	dir := filepath.Join(d.dir, partialDir)
	ents, err := readDir(dir)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		dg, ok := blobName(e.Name())
		if !ok || !e.Type().IsRegular() {
			rep.Foreign = append(rep.Foreign, p)
			continue
		}
		if _, ok := busy[dg]; ok {
			rep.Partials++
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if time.Since(fi.ModTime()) <= PartialMaxAge {
			rep.Partials++
			continue
		}
		errs = append(errs, removeEntry(rep, p))
	}
	return errors.Join(errs...)
}

// reconcileTmp removes our temporary files; linkMu is held, so none is in
// use.
func (d *Disk) reconcileTmp(rep *Report) error {
	dir := filepath.Join(d.dir, tmpDir)
	ents, err := readDir(dir)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		ours := strings.HasPrefix(e.Name(), tmpLinkPrefix) || strings.HasPrefix(e.Name(), tmpManifestPrefix)
		if !ours || !e.Type().IsRegular() {
			rep.Foreign = append(rep.Foreign, p)
			continue
		}
		errs = append(errs, removeEntry(rep, p))
	}
	return errors.Join(errs...)
}

// reconcileLinks removes bootloader links whose blob is not present and
// reports files under bootloaders/ that we did not place. linkMu is held.
func (d *Disk) reconcileLinks(rep *Report, present map[digest.Digest]bool) error {
	root := filepath.Join(d.dir, bootloaderDir)
	var errs []error
	changed := false
	for rel, dg := range d.links {
		if present[dg] {
			continue
		}
		if p, ok := d.linkPath(rel); ok {
			err := os.Remove(p)
			if err == nil {
				rep.Removed = append(rep.Removed, p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("reconcile: %w", err))
				continue
			}
		}
		delete(d.links, rel)
		changed = true
	}
	if changed {
		errs = append(errs, d.saveManifestLocked())
	}
	if fi, err := os.Lstat(root); err != nil || !fi.IsDir() {
		// Missing, or not a real directory: the main pass reported it.
		return errors.Join(errs...)
	}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if _, ours := d.links[filepath.ToSlash(rel)]; !ours {
			rep.Foreign = append(rep.Foreign, p)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("reconcile: %w", err))
	}
	return errors.Join(errs...)
}

// finishReport sorts the report, recounts the quarantine and logs.
func (d *Disk) finishReport(rep *Report, start time.Time) {
	slices.Sort(rep.Removed)
	slices.Sort(rep.Foreign)
	byHex := func(a, b digest.Digest) int { return bytes.Compare(a[:], b[:]) }
	slices.SortFunc(rep.Missing, byHex)
	slices.SortFunc(rep.WrongSize, byHex)
	if q, err := readDir(filepath.Join(d.dir, quarantineDir)); err == nil {
		d.mu.Lock()
		d.idx.quarantined = len(q)
		d.mu.Unlock()
	}
	for _, p := range rep.Foreign {
		d.log.Info("leaving foreign entry in store", "path", p)
	}
	d.log.Info("reconciled store", "kept", rep.Kept, "removed", len(rep.Removed),
		"missing", len(rep.Missing), "wrong_size", len(rep.WrongSize),
		"foreign", len(rep.Foreign), "partials", rep.Partials,
		"duration", time.Since(start).Round(time.Millisecond))
}
