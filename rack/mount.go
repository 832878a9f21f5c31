package rack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bootfs/bootfs/fs"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/cache"
	"github.com/bootfs/bootfs/rack/client"
	"github.com/bootfs/bootfs/rack/reader"
)

// Mount is a running boot tree mount. Its methods are safe for concurrent
// use.
type Mount struct {
	cfg     Config
	started time.Time

	cache   *cache.Cache
	digests *reader.DigestStore
	client  *client.Client
	reader  *reader.Reader
	root    *fs.Root
	server  *fuse.Server
	metrics *metricsServer // nil without Config.MetricsListen

	tree treeState

	prefetch *prefetcher // nil without Config.Prefetch

	// bg ends the follower, the flusher and the metrics server.
	bg     context.Context
	stopBg context.CancelFunc
	wg     sync.WaitGroup

	unmounted chan struct{} // closed when the kernel mount is gone

	closeOnce sync.Once
	closeErr  error // set inside closeOnce
}

// Start mounts the boot tree of cfg.Regions at cfg.Mountpoint and returns
// once the mount serves it. ctx bounds the start only (the first tree
// fetch); the mount then runs until Close or an external unmount. Nothing
// is mounted when Start fails: the error says why (ErrNoRegion, with every
// region's error, when no region answered).
func Start(ctx context.Context, cfg Config) (_ *Mount, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkMountpoint(cfg.Mountpoint); err != nil {
		return nil, err
	}
	secret, err := cfg.secret()
	if err != nil {
		return nil, err
	}
	log := cfg.Log
	m := &Mount{cfg: cfg, started: time.Now(), unmounted: make(chan struct{})}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()

	// reg stays a nil interface without metrics (a nil *Registry in it
	// would not be).
	var reg prometheus.Registerer
	if cfg.MetricsListen != "" {
		if m.metrics, err = listenMetrics(cfg.MetricsListen, log); err != nil {
			return nil, err
		}
		undo = append(undo, func() { m.metrics.ln.Close() })
		reg = m.metrics.reg
	}

	m.cache, err = openCache(ctx, cfg, reg)
	if err != nil {
		return nil, fmt.Errorf("block cache %s: %w", cfg.CacheDir, err)
	}
	undo = append(undo, func() { m.cache.Close() })

	m.client, err = client.New(client.Options{
		Regions: cfg.Regions, Secret: secret, HTTP: cfg.HTTP,
		Log: log.With("component", "client"), Metrics: reg,
	})
	if err != nil {
		return nil, err
	}
	m.digests = reader.NewDigestStore(filepath.Join(cfg.CacheDir, digestsDir), log.With("component", "digests"))
	// offline != nil: no region answered (offline says why); the saved tree
	// is served.
	t, etag, offline, err := m.firstTree(ctx)
	if err != nil {
		return nil, err
	}
	m.pruneDigests()
	m.newReaderAndRoot(reg)
	undo = append(undo, func() { m.reader.Close() })
	if len(cfg.Prefetch) > 0 {
		m.prefetch = newPrefetcher(m, cfg.Prefetch, cfg.PrefetchRate)
	}
	if err := m.install(t, offline == nil); err != nil {
		return nil, fmt.Errorf("the regions' boot tree: %w", err)
	}
	if offline != nil {
		m.pollFailed(offline)
	}
	if reg != nil {
		reg.MustRegister(&collector{m: m})
	}

	if err := m.mount(); err != nil {
		return nil, err
	}

	m.bg, m.stopBg = context.WithCancel(context.Background())
	m.goBg(func() { m.follow(m.bg, etag) })
	m.goBg(func() { m.flushLoop(m.bg) })
	if m.prefetch != nil {
		m.goBg(func() { m.prefetch.run(m.bg) })
	}
	if m.metrics != nil {
		m.goBg(func() { m.metrics.serve(m.bg) })
	}
	log.Info("mounted", "mountpoint", cfg.Mountpoint, "regions", strings.Join(cfg.Regions, ","),
		"generation", t.Generation, "offline", offline != nil, "files", len(t.Files), "cache_dir", cfg.CacheDir, "cache_size", cfg.CacheSize)
	return m, nil
}

// pruneDigests keeps the block digest lists of the files the cache holds;
// the others are fetched again when read.
func (m *Mount) pruneDigests() {
	if n, err := m.digests.Prune(m.cache.HoldsFile); err != nil {
		m.cfg.Log.Warn("cannot prune the stored block digests", "dir", filepath.Join(m.cfg.CacheDir, digestsDir), "err", err)
	} else if n > 0 {
		m.cfg.Log.Debug("pruned stored block digests of files no longer cached", "files", n)
	}
}

// newReaderAndRoot makes the block reader over the cache and the client,
// and the file system's root reading through it (timed when there are
// metrics). The reader must be closed.
func (m *Mount) newReaderAndRoot(reg prometheus.Registerer) {
	cfg, log := m.cfg, m.cfg.Log
	m.reader = reader.NewReader(m.cache, m.client, reader.ReaderOptions{
		Readahead: cfg.Readahead, MaxFetches: cfg.MaxFetches, VerifyCacheHits: cfg.VerifyCache,
		Digests: m.digests, Log: log.With("component", "reader"), Metrics: reg,
	})
	content := fs.Content(m.reader)
	if reg != nil {
		content = newTimedContent(m.reader, reg)
	}
	m.root = fs.NewRoot(content, fs.Options{Log: log.With("component", "fs"), Status: m.statusJSON,
		Passthrough: !cfg.NoPassthrough && !cfg.VerifyCache})
}

// listenMetrics binds the metrics listener; the server is started with
// the mount's background work.
func listenMetrics(addr string, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	return &metricsServer{ln: ln, reg: newRegistry(), log: log}, nil
}

// firstTree fetches the boot tree from the regions. If none answers and the
// cache directory holds a tree saved by an earlier mount (then the regions
// get at most Config.OfflineAfter), it returns that tree, no ETag, and in
// offline the regions' error. err is set when there is no tree to mount:
// the start is cancelled, a region refused the secret, or no region
// answered and no tree was saved.
func (m *Mount) firstTree(ctx context.Context) (t *wire.Tree, etag string, offline, err error) {
	cfg, log := m.cfg, m.cfg.Log
	treeCtx := ctx
	if _, err := os.Stat(savedTreePath(cfg.CacheDir)); err == nil {
		// A saved tree to fall back on: do not wait long for regions.
		var cancel context.CancelFunc
		treeCtx, cancel = context.WithTimeoutCause(ctx, cfg.OfflineAfter,
			fmt.Errorf("no region answered within %s (offline_after)", cfg.OfflineAfter))
		defer cancel()
	}
	t, etag, err = m.client.Tree(treeCtx, "", 0)
	if err == nil {
		return t, etag, nil, nil
	}
	if ctx.Err() != nil {
		return nil, "", nil, fmt.Errorf("fetching the boot tree: %w", context.Cause(ctx))
	}
	if errors.Is(err, client.ErrUnauthorized) {
		// A region answered and refused the secret: a configuration
		// error to fix, not an outage to ride out.
		return nil, "", nil, &noRegionError{cause: err}
	}
	saved, at, lerr := loadTree(cfg.CacheDir)
	if lerr != nil {
		log.Warn("saved boot tree ignored", "path", savedTreePath(cfg.CacheDir), "err", lerr)
	}
	if saved == nil {
		return nil, "", nil, &noRegionError{cause: err}
	}
	log.Warn("no region answered; mounting offline with the tree saved in the cache directory, serving the cached files, retrying the regions in the background",
		"saved", at, "generation", saved.Generation, "err", err)
	return saved, "", err, nil
}

// mount mounts the file system and raises the kernel's readahead on it.
func (m *Mount) mount() error {
	cfg := m.cfg
	var err error
	m.server, err = fs.Mount(cfg.Mountpoint, m.root, fs.MountOptions{
		AllowOther: cfg.AllowOther, FsName: cfg.FsName, Debug: cfg.Debug,
	})
	if err != nil {
		return err
	}
	go func() {
		m.server.Wait()
		close(m.unmounted)
	}()
	if cfg.KernelReadahead > 0 {
		if err := setKernelReadahead(cfg.Mountpoint, cfg.KernelReadahead); err != nil {
			cfg.Log.Info("kernel readahead left at its default", "want", cfg.KernelReadahead, "err", err)
		}
	}
	return nil
}

// openCache opens the block cache, waiting up to cacheLockWait while
// another process (a bootfs still stopping) holds the directory.
func openCache(ctx context.Context, cfg Config, reg prometheus.Registerer) (*cache.Cache, error) {
	deadline := time.Now().Add(cacheLockWait)
	logged := false
	for {
		c, err := cache.Open(cache.Options{
			Dir: cfg.CacheDir, Limit: cfg.CacheSize, VerifyHits: cfg.VerifyCache,
			BufferedWrites: cfg.BufferedCacheWrites,
			Log:            cfg.Log.With("component", "cache"), Metrics: reg,
		})
		if !errors.Is(err, cache.ErrInUse) || time.Now().After(deadline) {
			return c, err
		}
		if !logged {
			cfg.Log.Info("cache directory in use, waiting for it (a bootfs still stopping?)", "dir", cfg.CacheDir, "wait", cacheLockWait)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (m *Mount) goBg(f func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
}

// Mountpoint returns the absolute path of the mount.
func (m *Mount) Mountpoint() string { return m.cfg.Mountpoint }

// MetricsAddr returns the address the metrics are served on, "" if none.
func (m *Mount) MetricsAddr() string {
	if m.metrics == nil {
		return ""
	}
	return m.metrics.ln.Addr().String()
}

// Done is closed when the file system is no longer mounted: after Close,
// or once someone else unmounted it.
func (m *Mount) Done() <-chan struct{} { return m.unmounted }

// Wait blocks until the file system is unmounted (see Done). Call Close
// afterwards to release the cache and stop the follower.
func (m *Mount) Wait() { <-m.unmounted }

// Close unmounts the file system if it still is mounted, stops following
// the regions, waits for block loads in flight, flushes the cache index and
// releases the cache directory. If the mount is busy (a file is open, or a
// process such as tftpd-hpa has its working directory in it) it is
// detached lazily, and Close waits up to Config.DrainTimeout for it to be
// released before giving up on it (exiting then aborts the reads still
// open). Calling Close again returns the first result.
func (m *Mount) Close() error {
	m.closeOnce.Do(func() {
		errs := []error{m.unmount()}
		m.stopBg()
		m.wg.Wait()
		if err := m.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close reader: %w", err))
		}
		if err := m.cache.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close cache: %w", err))
		}
		m.closeErr = errors.Join(errs...)
		m.cfg.Log.Info("stopped", "mountpoint", m.cfg.Mountpoint)
	})
	return m.closeErr
}

// unmount ends the mount: a plain unmount, else a lazy one followed by a
// bounded wait for the kernel to release it.
func (m *Mount) unmount() error {
	select {
	case <-m.unmounted:
		return nil
	default:
	}
	err := m.server.Unmount()
	if err == nil {
		<-m.unmounted
		return nil
	}
	m.cfg.Log.Warn("mount busy, detaching it lazily; files still open keep reading until closed",
		"mountpoint", m.cfg.Mountpoint, "err", err, "wait", m.cfg.DrainTimeout)
	if err := lazyUnmount(m.cfg.Mountpoint); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("unmount %s: %w", m.cfg.Mountpoint, err)
	}
	select {
	case <-m.unmounted:
		return nil
	case <-time.After(m.cfg.DrainTimeout):
		return fmt.Errorf("unmount %s: detached, but %w after %s; the reads still open will fail", m.cfg.Mountpoint, ErrBusy, m.cfg.DrainTimeout)
	}
}

// flushLoop persists the cache index every FlushInterval (Close flushes a
// last time).
func (m *Mount) flushLoop(ctx context.Context) {
	t := time.NewTicker(m.cfg.FlushInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := m.cache.Flush()
		switch {
		case err != nil && !failing:
			m.cfg.Log.Warn("cache index flush failed; retrying", "dir", m.cfg.CacheDir, "err", err)
		case err == nil && failing:
			m.cfg.Log.Info("cache index flush works again", "dir", m.cfg.CacheDir)
		}
		failing = err != nil
	}
}

// The file system answers READs from the Reader's loans (fs.Lender).
var (
	_ fs.Lender = (*reader.Reader)(nil)
	_ fs.Lender = (*timedContent)(nil)
)
