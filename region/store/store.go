package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bootfs/bootfs/internal/digest"
)

// Errors returned by the store; test them with errors.Is.
var (
	// ErrNotFound: the blob is not in the store.
	ErrNotFound = errors.New("blob not found")
	// ErrCorrupt: the bytes written do not have the expected size or
	// sha256, or a stored file does not hash to its name. The message
	// names the expected and the actual value.
	ErrCorrupt = errors.New("blob corrupt")
	// ErrNoSpace: the filesystem under Dir is full (it wraps ENOSPC or
	// EDQUOT); the message names the directory.
	ErrNoSpace = errors.New("no space left")
	// ErrBusy: another writer holds the digest (see Begin).
	ErrBusy = errors.New("blob is being written by another writer")
	// ErrInvalidPath: a bootloader path is absolute, empty or leaves
	// Dir/bootloaders.
	ErrInvalidPath = errors.New("invalid path")
)

// Names of our private entries in Dir.
const (
	partialDir    = ".partial"
	quarantineDir = ".quarantine"
	tmpDir        = ".tmp"
	manifestName  = ".bootloaders.json"
	bootloaderDir = "bootloaders"
)

// Options configures Open.
type Options struct {
	// Dir is the store directory; it is created if missing. Required.
	Dir string
	// Log receives the store's log lines; nil discards them.
	Log *slog.Logger
	// Metrics, if not nil, gets the store's Prometheus metrics.
	Metrics prometheus.Registerer
}

// Disk is the store on a local filesystem. It is safe for concurrent use.
type Disk struct {
	dir string
	log *slog.Logger
	m   *metrics

	// mu guards writers, fresh and idx. Lock order: linkMu before mu.
	mu sync.Mutex
	// writers holds the digests with an open Pending in this process.
	writers map[digest.Digest]struct{}
	// fresh holds the digests committed since Open: Reconcile never
	// removes them even if the caller's known map predates them.
	fresh map[digest.Digest]struct{}
	idx   index

	// linkMu serialises LinkBootloader, Quarantine's link removal and
	// Reconcile's bootloader pass; it guards links and the manifest file.
	linkMu sync.Mutex
	links  map[string]digest.Digest // bootloaders/ rel path -> blob
}

// Open opens (creating if needed) the store in o.Dir and its private
// subdirectories, and takes stock of what is there (readdir and stat only).
func Open(o Options) (*Disk, error) {
	if o.Dir == "" {
		return nil, errors.New("store: no directory given")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, sub := range []string{"", partialDir, quarantineDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	d := &Disk{
		dir:     dir,
		log:     log.With("dir", dir),
		writers: make(map[digest.Digest]struct{}),
		fresh:   make(map[digest.Digest]struct{}),
	}
	if d.links, err = d.loadManifest(); err != nil {
		return nil, err
	}
	if d.idx, err = d.scan(); err != nil {
		return nil, err
	}
	if o.Metrics != nil {
		if d.m, err = newMetrics(o.Metrics, d); err != nil {
			return nil, fmt.Errorf("store: registering metrics: %w", err)
		}
	}
	return d, nil
}

// Dir returns the absolute store directory.
func (d *Disk) Dir() string { return d.dir }

// Path returns where blob dg lives once committed: Dir/<64 hex>.
func (d *Disk) Path(dg digest.Digest) string { return filepath.Join(d.dir, dg.String()) }

func (d *Disk) partialPath(dg digest.Digest) string {
	return filepath.Join(d.dir, partialDir, dg.String())
}

// Open opens blob dg for reading; ErrNotFound if it is not stored. The
// caller closes the file. The content was verified when it was written.
func (d *Disk) Open(dg digest.Digest) (*os.File, error) {
	f, err := os.Open(d.Path(dg))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, dg)
	}
	if err != nil {
		return nil, fmt.Errorf("opening blob: %w", err)
	}
	return f, nil
}

// Stat returns the size of blob dg; ErrNotFound if it is not stored.
func (d *Disk) Stat(dg digest.Digest) (int64, error) {
	fi, err := os.Lstat(d.Path(dg))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, dg)
	}
	if err != nil {
		return 0, fmt.Errorf("stat blob: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%w: %s is not a regular file", ErrNotFound, dg)
	}
	return fi.Size(), nil
}

// Remove deletes blob dg; a missing blob is not an error. Bootloader links
// made from it keep their bytes until Reconcile removes them.
func (d *Disk) Remove(dg digest.Digest) error {
	err := os.Remove(d.Path(dg))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing blob: %w", err)
	}
	d.mu.Lock()
	d.idx.remove(dg)
	delete(d.fresh, dg)
	d.mu.Unlock()
	return nil
}

// Usage returns the number and total size of stored blobs and the number
// of quarantined files, from bookkeeping kept since Open (no disk access).
func (d *Disk) Usage() (files int, bytes int64, quarantined int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.idx.sizes), d.idx.bytes, d.idx.quarantined
}

// claim registers dg as being written; false if it already is.
func (d *Disk) claim(dg digest.Digest) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, busy := d.writers[dg]; busy {
		return false
	}
	d.writers[dg] = struct{}{}
	return true
}

func (d *Disk) release(dg digest.Digest) {
	d.mu.Lock()
	delete(d.writers, dg)
	d.mu.Unlock()
}

func (d *Disk) committed(dg digest.Digest, size int64) {
	d.mu.Lock()
	d.idx.set(dg, size)
	d.fresh[dg] = struct{}{}
	d.mu.Unlock()
	d.m.committed()
}

// List returns the digests of every blob the store holds now (from its
// in-memory index: no disk access).
func (d *Disk) List() []digest.Digest {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]digest.Digest, 0, len(d.idx.sizes))
	for dg := range d.idx.sizes {
		out = append(out, dg)
	}
	return out
}
