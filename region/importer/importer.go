// Package importer brings boot resources from upstream simplestreams
// mirrors into the region: it reads each source's signed metadata, records
// the newest version of every selected product as a resource set, then
// downloads every blob this region lacks that upstream serves, through the
// store's verifying write path, resuming interrupted downloads with Range.
// Bootloader archives are extracted into member files, which are blobs like
// any other.
//
// An Importer runs one import at a time; Status reports its progress.
package importer

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// Config is what an Importer needs. Zero values get the defaults noted.
type Config struct {
	DB         *db.DB
	Store      *store.Disk
	RegionID   int64
	RegionName string
	HTTP       *http.Client // upstream; nil: a client with sane timeouts, the environment's proxy and no overall deadline
	PeerHTTP   *http.Client // peer regions; nil: the same without any proxy
	Log        *slog.Logger // nil: discard
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
	cfg Config
	log *slog.Logger

	run sync.Mutex // held for the whole of an import: one at a time

	mu     sync.Mutex // guards status and the transfers it lists
	status wire.ImportStatus

	refused refusals // what was refused and why, for Status (metadata.go, bootloader.go)
}

// New returns an Importer.
func New(cfg Config) *Importer {
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Transport: newTransport(http.ProxyFromEnvironment)}
	}
	if cfg.PeerHTTP == nil {
		// No proxy for peers: the request carries the shared secret, and
		// regions reach each other directly.
		cfg.PeerHTTP = &http.Client{Transport: newTransport(nil)}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 5
	}
	if cfg.Reserve == 0 {
		cfg.Reserve = 100 << 20
	}
	if cfg.ClaimTTL <= 0 {
		cfg.ClaimTTL = 30 * time.Second
	}
	if cfg.Alive <= 0 {
		cfg.Alive = 60 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	return &Importer{cfg: cfg, log: cfg.Log, status: wire.ImportStatus{State: "idle"}}
}

func newTransport(proxy func(*http.Request) (*url.URL, error)) *http.Transport {
	return &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
	}
}

// ErrBusy is returned by Start when an import is already running.
var ErrBusy = errors.New("an import is already running")

// Sync copies what this region lacks (from peers, or from upstream when no
// region has it yet) without reading upstream metadata. It returns ErrBusy
// if an import or sync is running.
func (im *Importer) Sync(ctx context.Context) (err error) {
	if !im.run.TryLock() {
		return ErrBusy
	}
	defer im.run.Unlock()
	im.begin("sync")
	defer func() { im.finish(err) }()
	return im.converge(ctx)
}

// Exclusive runs fn while no import or sync runs (waiting for a running one
// to end), so fn sees and changes the store and the database without a
// download committing files under it.
func (im *Importer) Exclusive(fn func() error) error {
	im.run.Lock()
	defer im.run.Unlock()
	return fn()
}

// Status returns a copy of the current progress.
func (im *Importer) Status() wire.ImportStatus {
	im.mu.Lock()
	defer im.mu.Unlock()
	s := im.status
	s.Current = append([]wire.Transfer(nil), s.Current...)
	s.Refused = im.refused.list()
	return s
}

// Run performs one import: metadata from every source, then downloads.
// It returns ErrBusy if another import is running.
func (im *Importer) Run(ctx context.Context) (err error) {
	if !im.run.TryLock() {
		return ErrBusy
	}
	defer im.run.Unlock()
	im.begin("import")
	defer func() { im.finish(err) }()
	if m := im.cfg.Metrics; m != nil {
		m.runs.Inc()
		defer func() {
			if err != nil {
				m.failures.Inc()
			}
		}()
	}
	start := time.Now()
	metaErr := im.syncMetadata(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fetchErr := im.converge(ctx)
	err = errors.Join(metaErr, fetchErr)
	if err == nil {
		im.log.Info("import finished", "duration", time.Since(start).Round(time.Millisecond))
	}
	return err
}

func (im *Importer) begin(kind string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	imports := im.status.Imports
	if kind == "import" {
		imports++
	}
	im.status = wire.ImportStatus{State: "running", Kind: kind, Started: time.Now(), Generation: im.status.Generation + 1,
		Imports: imports, LastImport: im.status.LastImport}
}

func (im *Importer) finish(err error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.status.Finished = time.Now()
	im.status.Current = nil
	im.status.State = "done"
	if err != nil {
		im.status.State = "failed"
		im.status.Error = err.Error()
	}
	if im.status.Kind == "import" {
		im.status.LastImport = &wire.ImportEnded{Number: im.status.Imports, State: im.status.State,
			Error: im.status.Error, Finished: im.status.Finished}
	}
}

func (im *Importer) setTotals(files int, bytes int64) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.status.FilesTotal, im.status.BytesTotal = files, bytes
}

func (im *Importer) startTransfer(t wire.Transfer) func(done int64, finished bool) {
	im.mu.Lock()
	im.status.Current = append(im.status.Current, t)
	im.mu.Unlock()
	var last int64
	return func(done int64, finished bool) {
		im.mu.Lock()
		defer im.mu.Unlock()
		im.status.BytesDone += done - last
		last = done
		for i := range im.status.Current {
			if im.status.Current[i].SHA256 == t.SHA256 {
				im.status.Current[i].Done = done
				if finished {
					im.status.Current = append(im.status.Current[:i], im.status.Current[i+1:]...)
					if done == t.Size {
						im.status.FilesDone++
					}
				}
				break
			}
		}
	}
}
