package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// Config is what a Syncer needs. Zero values get the defaults noted.
type Config struct {
	DB         *db.DB
	Store      *store.Disk
	RegionID   int64
	RegionName string
	HTTP       *http.Client // upstream; nil: NewClient(http.ProxyFromEnvironment)
	PeerHTTP   *http.Client // peer regions; nil: NewClient(nil), no proxy
	Log        *slog.Logger // peer copies and sync rounds (component=sync); nil: discard
	// UpstreamLog logs downloads from upstream (the importer's logger,
	// component=import); nil: Log.
	UpstreamLog *slog.Logger
	// Parallel is how many downloads run at once (default 4).
	Parallel int
	// Retries is how many times an interrupted upstream download is
	// resumed (default 5).
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
	// Poll is how often convergence looks again while other regions
	// download what it needs (default 1s).
	Poll time.Duration
	// Extract, if set, turns files held here into further files (the
	// importer extracts bootloader archives); it runs after each round of
	// downloads and once at the end, and must be idempotent.
	Extract func(ctx context.Context) error
}

// Syncer converges this region and runs its imports and syncs one at a
// time under its Lock. Methods are safe for concurrent use.
type Syncer struct {
	cfg     Config
	log     *slog.Logger // peer copies, sync rounds
	upLog   *slog.Logger // upstream downloads
	lock    Lock
	tracker *Tracker

	runMu  sync.Mutex              // guards cancel and held
	cancel context.CancelCauseFunc // ends the current run; nil when none runs
	held   bool                    // an operator stopped imports: runs refuse to start
}

// ErrStopped ends a run an operator stopped (`bootfs-region import --stop`),
// and is returned by Run while imports stay stopped. It is an outcome of
// its own ("stopped"), not a failure: partial downloads stay on disk and the
// next import resumes them.
var ErrStopped = errors.New("stopped by an operator (bootfs-region import --stop); `bootfs-region import` starts again")

// Stop ends the current run, if any, with ErrStopped (downloads in flight
// abort and keep their partial files) and makes Run refuse to start until
// Resume.
func (s *Syncer) Stop() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	s.held = true
	if s.cancel != nil {
		s.cancel(ErrStopped)
	}
}

// Resume lets runs start again after Stop.
func (s *Syncer) Resume() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	s.held = false
}

// Stopped reports whether runs are stopped (Stop without Resume since).
func (s *Syncer) Stopped() bool {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	return s.held
}

// New returns a Syncer.
func New(cfg Config) *Syncer {
	if cfg.HTTP == nil {
		cfg.HTTP = NewClient(http.ProxyFromEnvironment)
	}
	if cfg.PeerHTTP == nil {
		// No proxy for peers: the request carries the shared secret, and
		// regions reach each other directly.
		cfg.PeerHTTP = NewClient(nil)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.UpstreamLog == nil {
		cfg.UpstreamLog = cfg.Log
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
	return &Syncer{cfg: cfg, log: cfg.Log, upLog: cfg.UpstreamLog, tracker: NewTracker()}
}

// NewClient returns an HTTP client with sane connect and header timeouts and
// no overall deadline (downloads are long), using proxy (nil: none).
func NewClient(proxy func(*http.Request) (*url.URL, error)) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
	}}
}

// Lock is the lock every store-changing run and cleanup of this region
// takes (see Lock for the rule).
func (s *Syncer) Lock() *Lock { return &s.lock }

// Status returns a copy of the progress of the current or last run.
func (s *Syncer) Status() wire.ImportStatus { return s.tracker.Status() }

// Run runs fn as a run of kind ("import" or "sync") under the lock,
// tracking its progress and recording it in the import history; ErrBusy if
// another run holds the lock, ErrStopped if an operator stopped imports
// (before or during the run).
func (s *Syncer) Run(ctx context.Context, kind string, fn func(ctx context.Context) error) (err error) {
	release, err := s.lock.TryRun()
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.runMu.Lock()
	if s.held {
		s.runMu.Unlock()
		return ErrStopped
	}
	s.cancel = cancel
	s.runMu.Unlock()
	defer func() {
		s.runMu.Lock()
		s.cancel = nil
		s.runMu.Unlock()
	}()
	s.tracker.Begin(kind)
	id := s.beginHistory(ctx, kind)
	start := time.Now()
	defer func() {
		if errors.Is(context.Cause(ctx), ErrStopped) {
			err = ErrStopped // whatever the aborted downloads said
		}
		s.tracker.Finish(err)
		s.endHistory(ctx, id, s.tracker.Status())
		_, failed := ProductFailures(err)
		s.cfg.Metrics.ran(kind, time.Since(start), failed && !errors.Is(err, ErrStopped))
	}()
	return fn(ctx)
}

// Sync copies what this region lacks (from peers, or from upstream when no
// region has it yet) without reading upstream metadata. It returns ErrBusy
// if an import or sync is running.
func (s *Syncer) Sync(ctx context.Context) error {
	return s.Run(ctx, "sync", s.Converge)
}

// maxStall bounds how long Converge waits for other regions without any
// progress before giving up (the next import or sync tries again).
const maxStall = 15 * time.Minute

// Converge fetches every blob this region lacks until it holds them all:
// from a peer region that holds a complete copy when there is one,
// otherwise from upstream after winning the blob's download claim, so each
// upstream file is downloaded once across all regions; a blob claimed by
// another region is waited for and then copied from it (or taken over when
// the claim expires because its holder died). Files held are then extracted
// (Config.Extract). A file that cannot be fetched or verified fails the
// products using it (ProductError), not the run: it is not tried again in
// the same run, and everything else goes on. Call it within Run.
func (s *Syncer) Converge(ctx context.Context) error {
	c := &convergence{s: s, failed: map[digest.Digest]error{}, lastProgress: time.Now()}
	for {
		todo, total, err := c.todo(ctx)
		if err != nil {
			return err
		}
		if len(todo) == 0 {
			break
		}
		if err := s.prepareSpace(ctx, len(todo), total); err != nil {
			return err
		}
		r, err := c.round(ctx, todo)
		if err != nil {
			_ = s.raiseSpaceBanner(ctx, total)
			return err
		}
		more, err := c.next(ctx, r)
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	// Archives may be held without any download in this run (a migration
	// put them on disk): extraction is idempotent, so always look.
	c.extract(ctx)
	errs := append([]error{c.extractErr}, c.s.productErrors(ctx, c.failed)...)
	return errors.Join(errs...)
}

// convergence is the state of one Converge call.
type convergence struct {
	s            *Syncer
	failMu       sync.Mutex // guards failed while downloads run
	failed       map[digest.Digest]error
	extractErr   error // reported at the end; the other files go on
	lastProgress time.Time
}

// todo lists what this region still lacks and has not failed in this run,
// starting at a different place on each region, so regions that import
// together claim different files first. total is what the space check
// counts: the files that can still be fetched (from a peer or upstream),
// summed with overflow checks; a file whose size cannot be counted is
// refused (it fails its products, not the run).
func (c *convergence) todo(ctx context.Context) ([]db.Want, int64, error) {
	wants, err := c.s.cfg.DB.Wanted(ctx, c.s.cfg.RegionID)
	if err != nil {
		return nil, 0, fmt.Errorf("list wanted files: %w", err)
	}
	var todo []db.Want
	var total int64
	for _, w := range wants {
		if c.failed[w.SHA256] != nil {
			continue
		}
		if w.SourceURL != "" || w.Peer {
			sum, ok := addSize(total, w.Size)
			if !ok {
				c.failed[w.SHA256] = fmt.Errorf("%s: size %d bytes cannot be counted (the sum of the wanted files overflows): refused", w.Name, w.Size)
				continue
			}
			total = sum
		}
		todo = append(todo, w)
	}
	if len(todo) == 0 {
		return nil, 0, nil
	}
	off := int(c.s.cfg.RegionID) * 7919 % len(todo)
	return append(todo[off:], todo[:off]...), total, nil
}

// prepareSpace records the totals and checks the store has room for them.
func (s *Syncer) prepareSpace(ctx context.Context, files int, total int64) error {
	s.tracker.setTotals(files, total)
	if err := s.checkSpace(ctx, total); err != nil {
		return err
	}
	return s.cfg.DB.ClearBanner(ctx, s.cfg.RegionID, BannerDiskSpace)
}

// roundResult counts what one round of obtain calls achieved.
type roundResult struct {
	progressed, waiting int64
	nowhere             []string // wants no peer holds and upstream does not serve
}

// round tries to obtain every file of todo, Parallel at a time. Only a full
// disk stops it early (with the error).
func (c *convergence) round(ctx context.Context, todo []db.Want) (roundResult, error) {
	var progressed, waiting atomic.Int64
	var res roundResult
	var nowhereMu sync.Mutex // guards res.nowhere
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.s.cfg.Parallel)
	for _, w := range todo {
		g.Go(func() error {
			ok, wait, err := c.s.obtain(gctx, w)
			switch {
			case err != nil:
				c.failMu.Lock()
				c.failed[w.SHA256] = err
				c.failMu.Unlock()
				if errors.Is(err, store.ErrNoSpace) {
					return err // stop the others: the disk is full
				}
			case ok:
				progressed.Add(1)
			case wait:
				waiting.Add(1)
			default:
				nowhereMu.Lock()
				res.nowhere = append(res.nowhere, w.Name)
				nowhereMu.Unlock()
			}
			return nil
		})
	}
	err := g.Wait()
	res.progressed, res.waiting = progressed.Load(), waiting.Load()
	return res, err
}

// next extracts what the round brought and decides whether to go on: at
// once after progress, after a poll while other regions download what this
// one waits for, not at all when nothing more can be had now.
func (c *convergence) next(ctx context.Context, r roundResult) (more bool, err error) {
	c.extract(ctx)
	if r.progressed > 0 || r.waiting > 0 {
		// Waiting on a live claim counts: another region is
		// downloading (and renewing) it; a dead one's claim expires.
		c.lastProgress = time.Now()
	}
	if r.progressed > 0 {
		return true, nil
	}
	if r.waiting == 0 {
		if len(r.nowhere) > 0 {
			// Not a failure of this run (e.g. a migrated set whose
			// legacy copy was incomplete, until a source serves it),
			// but the set stays unavailable: say which files.
			slices.Sort(r.nowhere)
			c.s.log.Warn("files no region holds and no upstream source serves; their sets stay incomplete",
				"count", len(r.nowhere), "files", strings.Join(r.nowhere, ", "))
		}
		return false, nil // nothing more can be had now
	}
	if time.Since(c.lastProgress) > maxStall {
		return false, fmt.Errorf("no progress for %s", maxStall)
	}
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-time.After(c.s.cfg.Poll):
	}
	return true, nil
}

func (c *convergence) extract(ctx context.Context) {
	if c.s.cfg.Extract == nil {
		return
	}
	if err := c.s.cfg.Extract(ctx); err != nil {
		c.extractErr = err
	}
}
