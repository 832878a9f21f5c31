package region

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/version"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/httpapi"
	"github.com/bootfs/bootfs/region/importer"
	"github.com/bootfs/bootfs/region/pgembed"
	"github.com/bootfs/bootfs/region/store"
	"github.com/bootfs/bootfs/region/tree"
	"github.com/bootfs/bootfs/region/upload"
)

// Region is a running region controller.
type Region struct {
	cfg      Config
	log      *slog.Logger
	db       *db.DB
	store    *store.Disk
	id       int64
	importer *importer.Importer
	tree     *tree.Watcher
	api      *httpapi.Server
	uploads  *upload.Manager // custom image uploads received here
	registry *prometheus.Registry
	kick     chan struct{} // asks the import loop to run now
	pg       *pgembed.Server
	ln       net.Listener
	instance string // this region's instance id (its store's), held in the region row
	// migrating is the progress line while the one-time migration runs,
	// nil otherwise; file endpoints answer 503 while it is set.
	migrating atomic.Pointer[string]

	// metricsLn is the separate metrics listener (Config.MetricsListen), or nil.
	metricsLn net.Listener
}

// Open prepares a region: database (embedded or external), migration,
// store, registration and the start-up reconcile. Serve runs it; Close
// releases what Open took.
func Open(ctx context.Context, cfg Config) (_ *Region, err error) {
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	r := &Region{cfg: cfg, log: cfg.Log, registry: prometheus.NewRegistry(), kick: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if r.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen for HTTP: %w", err)
	}
	if cfg.URL == "" {
		r.cfg.URL = defaultURL(r.ln.Addr().(*net.TCPAddr))
		cfg.URL = r.cfg.URL
	}
	r.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	secret, err := LoadSecret(cfg.SecretFile, true)
	if err != nil {
		return nil, err
	}
	metricsToken, err := loadMetricsToken(cfg.MetricsTokenFile, secret)
	if err != nil {
		return nil, err
	}
	if err := r.listenMetrics(); err != nil {
		return nil, err
	}
	if err := r.openDatabase(ctx); err != nil {
		return nil, err
	}
	if r.store, err = store.Open(store.Options{Dir: cfg.Storage, Log: r.log.With("component", "store"), Metrics: r.registry}); err != nil {
		return nil, err
	}
	if err := r.checkSecret(ctx, secret); err != nil {
		return nil, err
	}
	if r.instance, err = r.store.InstanceID(); err != nil {
		return nil, err
	}
	if r.id, err = r.db.ClaimName(ctx, cfg.Name, cfg.URL, r.instance, version.String(), cfg.AliveWindow); err != nil {
		return nil, err
	}
	r.warnVersionMix(ctx)
	if err := r.reconcile(ctx); err != nil {
		return nil, fmt.Errorf("start-up reconcile: %w", err)
	}
	r.importer = importer.New(importer.Config{
		DB: r.db, Store: r.store, RegionID: r.id, RegionName: cfg.Name,
		Log: r.log.With("component", "import"), SyncLog: r.log.With("component", "sync"), Metrics: importer.NewMetrics(r.registry),
		Secret: string(secret), ClaimTTL: cfg.ClaimTTL, Alive: cfg.AliveWindow,
	})
	r.registerImportGauges()
	r.registerHistoryGauges()
	r.applyImportStop(ctx) // a stop pending at start-up holds from the first moment
	if err := r.db.EndInterruptedRuns(ctx, r.id); err != nil {
		r.log.Warn("import history: record the runs cut short by the last stop", "err", err)
	}
	r.tree = tree.NewWatcher(r.db, r.log.With("component", "tree"), cfg.AliveWindow, r.cfg.CleanupGrace, 10*time.Second)
	if err := r.tree.Refresh(ctx); err != nil {
		return nil, err
	}
	r.uploads = upload.New(upload.Config{
		DB: r.db, Store: r.store, RegionID: r.id, RegionName: cfg.Name, Lock: r.importer.Syncer().Lock(),
		Log: r.log.With("component", "upload"), Metrics: r.registry,
	})
	r.api = httpapi.New(httpapi.Deps{
		Region: cfg.Name, Secret: secret, DB: r.db, Store: r.store, Tree: r.tree,
		ImportStatus: r.importer.Status, StartImport: r.StartImport, StopImport: r.StopImport,
		Migrating: r.migratingStatus, OnCorrupt: r.forgetCorrupt, Unavailable: r.unavailable, Retire: r.Retire,
		Log: r.log.With("component", "http"), Registry: r.registry, MetricsToken: metricsToken,
		Uploads: r.uploads,
	})
	return r, nil
}

// openDatabase connects to the configured database, or starts the
// embedded PostgreSQL when none is configured, and migrates its schema.
func (r *Region) openDatabase(ctx context.Context) (err error) {
	url := r.cfg.DatabaseURL
	if url == "" {
		r.pg, err = pgembed.Start(ctx, pgembed.Options{Dir: r.cfg.StateDir, User: r.cfg.PostgresUser, Log: r.log.With("component", "postgres")})
		if err != nil {
			return fmt.Errorf("start embedded PostgreSQL in %s: %w", r.cfg.StateDir, err)
		}
		url = r.pg.URL()
	}
	if r.db, err = db.Open(ctx, url); err != nil {
		return err
	}
	from, to, err := r.db.Migrate(ctx)
	if err != nil {
		return err
	}
	if from != to {
		r.log.Info("database schema migrated", "from", from, "to", to)
	}
	return nil
}

// checkSecret refuses a secret that is not the one the regions share
// (recorded in the database by the first region), unless told it is new.
func (r *Region) checkSecret(ctx context.Context, secret []byte) error {
	cfg := r.cfg
	match, setBy, err := r.db.CheckSecret(ctx, secretFingerprint(secret), cfg.Name, cfg.NewSecret)
	if err != nil {
		return err
	}
	if !match {
		return fmt.Errorf("%w: the secret in %s is not the one recorded by region %q; copy that region's secret file here "+
			"(or, if the secret was changed on every region, start once with --new-secret)", ErrSecretMismatch, cfg.SecretFile, setBy)
	}
	if cfg.NewSecret {
		r.log.Warn("this region's secret is now the one every region must use", "secret_file", cfg.SecretFile)
	}
	return nil
}

// unavailable says why boot files are not served now, or "" if they are.
func (r *Region) unavailable() string {
	if p := r.migrating.Load(); p != nil {
		return "boot files are not served while this region moves images out of the legacy MAAS database (" + *p + "); try again shortly"
	}
	return ""
}

// Close marks the region down (other regions and racks see it stopped at
// once instead of after the alive window), stops the embedded database (if
// any) and closes connections.
func (r *Region) Close() {
	if r.ln != nil {
		_ = r.ln.Close()
	}
	if r.metricsLn != nil {
		_ = r.metricsLn.Close()
	}
	if r.db != nil && r.id != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := r.db.MarkDown(ctx, r.id, r.instance); err != nil {
			r.log.Warn("could not mark this region down; others see it down after the alive window", "err", err)
		} else {
			r.log.Info("region marked down", "name", r.cfg.Name)
		}
		cancel()
	}
	if r.db != nil {
		r.db.Close()
	}
	if r.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.pg.Stop(ctx); err != nil {
			r.log.Warn("stop embedded PostgreSQL", "err", err)
		}
	}
}

// DB returns the region's database (tests and the CLI use it).
func (r *Region) DB() *db.DB { return r.db }

// ID returns the region's id in the database.
func (r *Region) ID() int64 { return r.id }

// URL is where peers and racks reach this region.
func (r *Region) URL() string { return r.cfg.URL }

// Name is the region's name.
func (r *Region) Name() string { return r.cfg.Name }

// ImportNow runs one import and waits for it (and first for a running
// sync or import to end), then refreshes the tree and cleans up, as the
// import loop does.
func (r *Region) ImportNow(ctx context.Context) error {
	err := r.importer.Run(ctx)
	for errors.Is(err, importer.ErrBusy) { // a peer sync is running; wait for it
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		err = r.importer.Run(ctx)
	}
	if rerr := r.tree.Refresh(ctx); err == nil {
		err = rerr
	}
	if cerr := r.collect(ctx); err == nil {
		err = cerr
	}
	return err
}

// Serve runs the region until ctx is done.
func (r *Region) Serve(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.api.Serve(ctx, r.ln) })
	g.Go(func() error { return r.serveMetrics(ctx) })
	g.Go(func() error { return r.tree.Run(ctx) })
	g.Go(func() error { return r.heartbeat(ctx) })
	g.Go(func() error { return r.stopLoop(ctx) })
	g.Go(func() error { return r.uploads.Run(ctx) })
	g.Go(func() error {
		// The one-time migration comes first: imports and peer copies
		// start once this region's legacy content (if any) is on disk.
		if err := r.migrateLegacy(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("migration out of the legacy MAAS database failed; it is retried at the next start", "err", err)
		}
		g.Go(func() error { return r.syncLoop(ctx) })
		g.Go(func() error { return r.cleanupLoop(ctx) })
		return r.importLoop(ctx)
	})
	if r.cfg.VerifyRate > 0 {
		g.Go(func() error {
			return r.store.RunVerifier(ctx, store.VerifierOptions{
				BytesPerSec: r.cfg.VerifyRate, Interval: r.cfg.VerifyInterval,
				// Files without BLAKE3 block digests (stored by an
				// earlier release) first: the pass records them.
				List:       func(ctx context.Context) ([]digest.Digest, error) { return r.db.HeldByConversion(ctx, r.id) },
				OnCorrupt:  r.forgetCorrupt,
				OnVerified: r.recordBlocks,
			})
		})
	}
	if r.pg != nil {
		g.Go(func() error {
			select {
			case <-ctx.Done():
				return nil
			case <-r.pg.Done():
				return fmt.Errorf("embedded PostgreSQL stopped: %w", r.pg.Err())
			}
		})
	}
	r.log.Info("region serving", "name", r.cfg.Name, "url", r.cfg.URL, "listen", r.cfg.Listen, "storage", r.cfg.Storage)
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// warnVersionMix logs a warning when live peers run another version (status
// shows it as a banner too).
func (r *Region) warnVersionMix(ctx context.Context) {
	regs, err := r.db.Regions(ctx)
	if err != nil {
		return
	}
	now, err := r.db.Now(ctx)
	if err != nil {
		return
	}
	for _, p := range regs {
		if p.ID != r.id && p.Stopped.IsZero() && now.Sub(p.LastHeartbeat) <= r.cfg.AliveWindow && p.Version != version.String() {
			r.log.Warn("a live region runs another version; upgrade every region to one version",
				"region", p.Name, "its_version", p.Version, "this_version", version.String())
		}
	}
}

// forgetCorrupt is told of a stored file found damaged (by the background
// verifier or while serving it) once it is quarantined: this region no
// longer holds it, and an import fetches it again.
func (r *Region) forgetCorrupt(d digest.Digest) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.db.Forget(ctx, r.id, []digest.Digest{d}); err != nil {
		r.log.Error("forget quarantined file", "sha256", d, "err", err)
	}
	r.kickImport() // fetch it again
}

func (r *Region) heartbeat(ctx context.Context) error {
	t := time.NewTicker(r.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := r.db.Heartbeat(ctx, r.id, r.instance)
		if errors.Is(err, db.ErrNotFound) {
			// An operator removed this region while it ran. Stop rather
			// than quietly re-join: a restart registers it again.
			return fmt.Errorf("region %q was removed from the database by an operator; restart it to register again", r.cfg.Name)
		}
		if errors.Is(err, db.ErrNameInUse) {
			// This region was silent past the alive window and another
			// took its name: two must not serve as one.
			return fmt.Errorf("region %q stops: %w", r.cfg.Name, err)
		}
		if err != nil && ctx.Err() == nil {
			r.log.Warn("heartbeat failed", "err", err)
		}
	}
}

// defaultURL is http://<listen address>, with the host name in place of an
// unspecified address (":5240" listens everywhere; peers need a name).
func defaultURL(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

func (r *Region) migratingStatus() string {
	if p := r.migrating.Load(); p != nil {
		return *p
	}
	return ""
}

// migrateLegacy moves boot images out of the legacy MAAS database when
// Config.Legacy is set and content is still there. Only one region
// migrates (the migrator takes a database-wide lock; others wait, then
// find nothing to copy). Afterwards an import runs so migrated bootloader
// archives are extracted and the tree is recomputed.
func (r *Region) migrateLegacy(ctx context.Context) error {
	if r.cfg.Legacy == nil {
		return nil
	}
	pending, err := r.cfg.Legacy.Pending(ctx)
	if err != nil {
		return fmt.Errorf("look for legacy boot images: %w", err)
	}
	if !pending {
		return nil
	}
	start := "migrating: starting"
	r.migrating.Store(&start)
	defer r.migrating.Store(nil)
	err = r.cfg.Legacy.Migrate(ctx, LegacyTarget{
		DB: r.db, Store: r.store, RegionID: r.id, RegionName: r.cfg.Name,
		Log:      r.log.With("component", "migrate"),
		Progress: func(s string) { r.migrating.Store(&s) },
	})
	r.migrating.Store(nil)
	if err != nil {
		return err
	}
	if err := r.tree.Refresh(ctx); err != nil {
		return err
	}
	r.kickImport()
	return nil
}

// registerImportGauges exposes the import's progress as Prometheus gauges.
func (r *Region) registerImportGauges() {
	gauge := func(name, help string, f func(wire.ImportStatus) float64) {
		r.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return f(r.importer.Status()) }))
	}
	gauge("bootfs_region_import_running", "1 while an import or peer sync runs.", func(s wire.ImportStatus) float64 {
		if s.State == "running" {
			return 1
		}
		return 0
	})
	gauge("bootfs_region_import_progress_done_files", "Files stored by the current or last import.", func(s wire.ImportStatus) float64 { return float64(s.FilesDone) })
	gauge("bootfs_region_import_progress_wanted_files", "Files the current or last import had to fetch.", func(s wire.ImportStatus) float64 { return float64(s.FilesTotal) })
	gauge("bootfs_region_import_progress_done_bytes", "Bytes fetched by the current or last import.", func(s wire.ImportStatus) float64 { return float64(s.BytesDone) })
	gauge("bootfs_region_import_progress_wanted_bytes", "Bytes the current or last import had to fetch.", func(s wire.ImportStatus) float64 { return float64(s.BytesTotal) })
}
