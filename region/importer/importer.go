// Package importer brings boot resources from upstream simplestreams
// mirrors into the region: it reads each source's signed metadata, records
// the newest version of every selected product as a resource set, then
// has region/sync bring every blob this region lacks (from a peer region,
// or from upstream through the store's verifying write path). Bootloader
// archives are extracted into member files, which are blobs like any other.
//
// An Importer runs one import at a time, and never while a peer sync runs
// (both take the sync package's Lock); Status reports the progress of
// either.
package importer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
	regionsync "github.com/bootfs/bootfs/region/sync"
)

// Config is what an Importer needs. Zero values get the defaults noted.
type Config struct {
	DB         *db.DB
	Store      *store.Disk
	RegionID   int64
	RegionName string
	HTTP       *http.Client // upstream; nil: a client with sane timeouts, the environment's proxy and no overall deadline
	PeerHTTP   *http.Client // peer regions; nil: the same without any proxy
	Log        *slog.Logger // the import and its upstream downloads (component=import); nil: discard
	// SyncLog logs copies from peer regions and sync rounds
	// (component=sync); nil: Log.
	SyncLog *slog.Logger
	// Parallel is how many downloads run at once (default 4).
	Parallel int
	// Retries is how many times an interrupted download is resumed (default 5).
	Retries int
	// Reserve is free space kept beyond what the files need (default 100 MiB).
	Reserve int64
	// Metrics receives counters; nil for none.
	Metrics *Metrics
	// Secret authenticates copies from peer regions.
	Secret string
	// ClaimTTL is how long an upstream download claim lives without
	// renewal (default 30s): a region that dies mid-download loses its
	// claims after this, and another region takes the downloads over.
	ClaimTTL time.Duration
	// Alive is the heartbeat age within which a peer counts as up (default 60s).
	Alive time.Duration
	// Poll is how often Sync looks again while other regions download what
	// it needs (default 1s).
	Poll time.Duration
}

// Importer runs imports. Methods are safe for concurrent use.
type Importer struct {
	cfg  Config
	log  *slog.Logger
	sync *regionsync.Syncer // convergence, the run lock and the status

	refused refusals // what was refused and why, for Status (metadata.go, bootloader.go)
}

// New returns an Importer.
func New(cfg Config) *Importer {
	if cfg.HTTP == nil {
		cfg.HTTP = regionsync.NewClient(http.ProxyFromEnvironment)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.SyncLog == nil {
		cfg.SyncLog = cfg.Log
	}
	im := &Importer{cfg: cfg, log: cfg.Log}
	var transfer *regionsync.Metrics
	if cfg.Metrics != nil {
		transfer = cfg.Metrics.transfer
	}
	im.sync = regionsync.New(regionsync.Config{
		DB: cfg.DB, Store: cfg.Store, RegionID: cfg.RegionID, RegionName: cfg.RegionName,
		HTTP: cfg.HTTP, PeerHTTP: cfg.PeerHTTP, Log: cfg.SyncLog, UpstreamLog: cfg.Log, Parallel: cfg.Parallel, Retries: cfg.Retries,
		Reserve: cfg.Reserve, Metrics: transfer, Secret: cfg.Secret, ClaimTTL: cfg.ClaimTTL, Alive: cfg.Alive,
		Poll: cfg.Poll, Extract: im.extractBootloaders,
	})
	return im
}

// ErrBusy is returned by Run when an import or sync is already running.
var ErrBusy = regionsync.ErrBusy

// BannerDiskSpace is the banner kind raised when the store is too small.
const BannerDiskSpace = regionsync.BannerDiskSpace

// ErrNoSpace is returned when the store lacks room for what must be fetched.
var ErrNoSpace = regionsync.ErrNoSpace

// ErrStopped is returned by Run for an import an operator stopped (Stop),
// and while imports stay stopped. It is the outcome "stopped", not a failure.
var ErrStopped = regionsync.ErrStopped

// Stop ends the running import or sync of this region, if any: downloads
// in flight abort and keep their partial files (the next import resumes
// them), and the run ends "stopped". Until Resume, Run returns ErrStopped
// at once (no import or sync starts by itself).
func (im *Importer) Stop() { im.sync.Stop() }

// Resume lets imports and syncs run again after Stop.
func (im *Importer) Resume() { im.sync.Resume() }

// Syncer is the peer sync sharing this importer's lock and status.
func (im *Importer) Syncer() *regionsync.Syncer { return im.sync }

// Status returns a copy of the current progress (of an import or a sync),
// with what the latest import refused.
func (im *Importer) Status() wire.ImportStatus {
	s := im.sync.Status()
	s.Refused = im.refused.list()
	return s
}

// Run performs one import: metadata from every source, then downloads.
// It returns ErrBusy if another import or a sync is running.
func (im *Importer) Run(ctx context.Context) error {
	return im.sync.Run(ctx, "import", im.run)
}

func (im *Importer) run(ctx context.Context) (err error) {
	if m := im.cfg.Metrics; m != nil {
		m.runs.Inc()
		defer func() {
			if _, failed := regionsync.ProductFailures(err); failed && !errors.Is(err, ErrStopped) {
				m.failures.Inc()
			}
		}()
	}
	defer func() { // runs before the metrics' defer above
		// Stopped by an operator: an outcome of its own, not a failure
		// (whatever the aborted downloads reported).
		if errors.Is(context.Cause(ctx), ErrStopped) {
			err = ErrStopped
			im.log.Info("import stopped by an operator; partial downloads are kept for the next import")
		}
	}()
	start := time.Now()
	metaErr := im.syncMetadata(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fetchErr := im.sync.Converge(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	err = errors.Join(metaErr, fetchErr)
	if failures, failed := regionsync.ProductFailures(err); !failed {
		im.log.Info("import finished", "duration", time.Since(start).Round(time.Millisecond), "failed_products", len(failures))
	}
	return err
}
