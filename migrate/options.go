package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bootfs/bootfs/internal/units"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// Errors returned by Run; test them with errors.Is.
var (
	// ErrNoSpace: the store lacks room for what must be exported (found
	// before starting, or a full disk during the export). The message
	// names the directory, the bytes needed and the bytes available.
	ErrNoSpace = errors.New("not enough disk space to migrate")
)

// BannerKind is the kind of the banner raised on the region when a
// migration cannot start for lack of space (and cleared once it ran).
const BannerKind = "migration"

// DefaultChunkSize is how much of a large object one read asks for.
// Measured against PostgreSQL 15 here, reads of 64 KiB to 1 MiB export at
// the same speed (the server reading pg_largeobject's 2 KiB pages is the
// bottleneck) and 4 MiB reads were at times much slower; 256 KiB keeps
// the round trips few and the memory small. MAAS used 64 KiB.
const DefaultChunkSize = 256 << 10

// inFlight is how many chunks may be read ahead of the one being written:
// the database produces the next chunks while the store hashes and writes.
// Memory is bounded by (inFlight+1) * ChunkSize plus the driver's buffer.
const inFlight = 3

// Options configures Run. Zero values get the defaults noted.
type Options struct {
	// From is the legacy MAAS database URL. It may name the same server,
	// or even the same database, as the region's. Required.
	From string
	// DB is the region database, schema already migrated. Required unless
	// DryRun.
	DB *db.DB
	// Store receives the files. Required.
	Store *store.Disk
	// RegionID is this region's id in DB (the files are recorded as held
	// by it); RegionName names it in messages. Required unless DryRun.
	RegionID   int64
	RegionName string
	// DryRun reads the legacy tables and the store, fills Report.Plan and
	// returns: no lock is taken and neither database nor the store is
	// written.
	DryRun bool
	// Log receives progress and problems; nil discards.
	Log *slog.Logger
	// Progress, if set, is called from Run's goroutine as the work
	// advances (at least once per file and every few MiB).
	Progress func(Progress)
	// ChunkSize is the large object read size (default DefaultChunkSize).
	ChunkSize int
	// Confirm is asked, once every content is settled, whether to take
	// the irreversible step the Removal describes (deleting largefiles
	// and their large objects from the legacy database). It is not asked
	// when there is nothing to delete. nil, false or an error keep every
	// object: the copy stays done, and a later run with a Confirm that
	// says yes finds the files on disk and takes the step. The CLI asks
	// at a terminal or takes --yes; `serve` says yes only when told to.
	Confirm func(context.Context, Removal) (bool, error)
	// DiscardUnverified makes the irreversible step also delete the
	// largefiles whose content is not verified on disk (corrupt,
	// incomplete, unrecordable, orphaned). Without it they are kept and
	// reported: for an uploaded image there is no upstream to fetch them
	// from again.
	DiscardUnverified bool
}

// Removal is what the irreversible step would delete from the legacy
// database; Confirm sees it before anything is deleted.
type Removal struct {
	// Verified counts the largefiles whose content is on disk, verified
	// (hashed on the way in, or found under its final name), and
	// VerifiedBytes their size: these are deleted.
	Verified      int
	VerifiedBytes int64
	// Unverified counts the other largefiles (UnverifiedBytes their
	// expected size): deleted only with DiscardUnverified, else kept.
	Unverified      int
	UnverifiedBytes int64
	// Discard is Options.DiscardUnverified.
	Discard bool
	// Database names the legacy database (user@host:port/name).
	Database string
}

// String says what the step deletes, for a confirmation prompt.
func (r Removal) String() string {
	s := fmt.Sprintf("delete %d largefiles (%s) verified on disk and their large objects from the MAAS database %s",
		r.Verified, HumanBytes(r.VerifiedBytes), r.Database)
	switch {
	case r.Unverified == 0:
	case r.Discard:
		s += fmt.Sprintf(", and DISCARD %d largefiles (%s) NOT verified on disk (corrupt, incomplete or unused)",
			r.Unverified, HumanBytes(r.UnverifiedBytes))
	default:
		s += fmt.Sprintf("; %d largefiles (%s) not verified on disk are kept", r.Unverified, HumanBytes(r.UnverifiedBytes))
	}
	return s
}

func (o *Options) applyDefaults() error {
	if o.From == "" {
		return errors.New("migrate: no legacy database URL given")
	}
	if o.Store == nil {
		return errors.New("migrate: no store given")
	}
	if !o.DryRun && o.DB == nil {
		return errors.New("migrate: no region database given")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.RegionName == "" {
		o.RegionName = fmt.Sprintf("region %d", o.RegionID)
	}
	return nil
}

// Progress is how far a running migration got. Files and bytes count the
// distinct contents to export, including those found already on disk.
type Progress struct {
	FilesDone, FilesTotal int
	BytesDone, BytesTotal int64
}

// String is the status line, e.g.
// "migrating: 3 of 10 files, 1.2 GiB of 4.0 GiB".
func (p Progress) String() string {
	return fmt.Sprintf("migrating: %d of %d files, %s of %s",
		p.FilesDone, p.FilesTotal, HumanBytes(p.BytesDone), HumanBytes(p.BytesTotal))
}

// HumanBytes formats n in binary units with one decimal: "512 B",
// "1.5 KiB", "4.0 GiB" (internal/units, shared by every command).
func HumanBytes[T int64 | uint64 | int](n T) string { return units.Bytes(n) }

// progress throttles Options.Progress.
type progress struct {
	fn   func(Progress)
	p    Progress
	last int64 // BytesDone at the last call
}

// reportEvery is how many bytes may pass between two Progress calls.
const reportEvery = 8 << 20

func (pr *progress) bytes(n int64) {
	pr.p.BytesDone += n
	if pr.p.BytesDone-pr.last >= reportEvery {
		pr.emit()
	}
}

func (pr *progress) fileDone() {
	pr.p.FilesDone++
	pr.emit()
}

func (pr *progress) emit() {
	pr.last = pr.p.BytesDone
	if pr.fn != nil {
		pr.fn(pr.p)
	}
}

// Report is what Run found and did.
type Report struct {
	// Plan is the inventory and the space estimate (what --dry-run
	// prints); nil when there was nothing to migrate.
	Plan *Plan
	// Sets and Files count the set and file records written to the region
	// database.
	Sets, Files int
	// Migrated counts the contents written to the store by this run,
	// Skipped those already there (verified by their final name).
	Migrated, Skipped int
	// Incomplete counts largefiles not exported because MAAS never
	// finished downloading them; Corrupt those whose bytes did not match
	// their sha256 (or whose large object was missing). Problems lists
	// both.
	Incomplete, Corrupt int
	Problems            []Problem
	// Bytes counts the bytes this run streamed into the store (bytes of a
	// resumed partial file written by an earlier run are not counted).
	Bytes int64
	// ExportTime is the time spent streaming objects into the store.
	ExportTime time.Duration
	// Removed counts the largefile rows deleted by the final transaction
	// and Unlinked their large objects; 0 if it did not run.
	Removed, Unlinked int
	// Kept counts the largefile rows left in the legacy database (KeptBytes
	// their expected size): those not verified on disk when the step ran
	// without DiscardUnverified, or all of them when it did not run.
	// Problems and Plan.Orphans say what they are.
	Kept      int
	KeptBytes int64
	// Declined: the irreversible step was not taken (no Confirm, or it
	// said no); every largefile is kept.
	Declined bool
}

// Problem is a content that was not migrated.
type Problem struct {
	File   PlanFile
	Kind   string // "incomplete" or "corrupt"
	Reason string
}
