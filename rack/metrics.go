package rack

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bootfs/bootfs/fs"
	"github.com/bootfs/bootfs/internal/digest"
)

// newRegistry returns a registry with the Go runtime and process
// collectors; the cache, client and reader add theirs.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// metricsServer serves a registry at /metrics, and Go's profiles at
// /debug/pprof/.
type metricsServer struct {
	ln  net.Listener
	reg *prometheus.Registry
	log *slog.Logger
}

// serve serves until ctx ends.
func (s *metricsServer) serve(ctx context.Context) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	// Go profiles, for memory and CPU questions (same trusted listener).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", "addr", s.ln.Addr().String(), "err", err)
		}
		return
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		srv.Close()
	}
	<-errc
}

// collector exports the mount's own state: the tree and the FUSE counters.
type collector struct{ m *Mount }

var (
	descTreeFiles   = prometheus.NewDesc("bootfs_rack_tree_files", "Files in the installed boot tree.", nil, nil)
	descTreeBytes   = prometheus.NewDesc("bootfs_rack_tree_bytes", "Sum of the sizes of the installed tree's files.", nil, nil)
	descTreeUpdates = prometheus.NewDesc("bootfs_rack_tree_updates_total", "Boot trees installed.", nil, nil)
	descTreeErrors  = prometheus.NewDesc("bootfs_rack_tree_poll_errors_total", "Tree polls no region answered.", nil, nil)
	descTreeRefused = prometheus.NewDesc("bootfs_rack_tree_refused_total", "Trees the file system refused as invalid.", nil, nil)
	descTreeSkipped = prometheus.NewDesc("bootfs_rack_tree_skipped_entries", "Entries of the installed tree left out as bad or clashing.", nil, nil)
	descOffline     = prometheus.NewDesc("bootfs_rack_offline", "1 while no region answers (the mount serves its last tree and the cached files).", nil, nil)
	descTreeAge     = prometheus.NewDesc("bootfs_rack_tree_last_answer_timestamp_seconds", "When a region last answered a tree poll.", nil, nil)
	descLookups     = prometheus.NewDesc("bootfs_rack_fs_lookups_total", "FUSE lookups answered.", nil, nil)
	descNegLookups  = prometheus.NewDesc("bootfs_rack_fs_negative_lookups_total", "FUSE lookups answered ENOENT.", nil, nil)
	descOpens       = prometheus.NewDesc("bootfs_rack_fs_opens_total", "Files opened.", nil, nil)
	descReads       = prometheus.NewDesc("bootfs_rack_fs_reads_total", "FUSE reads answered with data.", nil, nil)
	descReadBytes   = prometheus.NewDesc("bootfs_rack_fs_read_bytes_total", "Bytes returned by FUSE reads.", nil, nil)
	descReadErrors  = prometheus.NewDesc("bootfs_rack_fs_read_errors_total", "FUSE reads answered EIO.", nil, nil)

	descPrefetchBytes   = prometheus.NewDesc("bootfs_rack_prefetch_bytes_total", "Bytes fetched from regions by prefetch= (ahead of any read).", nil, nil)
	descPrefetchFiles   = prometheus.NewDesc("bootfs_rack_prefetch_files_total", "Files prefetch= completed with at least one block fetched.", nil, nil)
	descPrefetchPending = prometheus.NewDesc("bootfs_rack_prefetch_pending_bytes", "Bytes of files queued by prefetch= not cached yet.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTreeFiles, descTreeBytes, descTreeUpdates, descTreeErrors,
		descTreeRefused, descTreeSkipped, descOffline, descTreeAge, descLookups, descNegLookups, descOpens, descReads, descReadBytes, descReadErrors} {
		ch <- d
	}
	if c.m.prefetch != nil {
		ch <- descPrefetchBytes
		ch <- descPrefetchFiles
		ch <- descPrefetchPending
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	s := &c.m.tree
	s.mu.Lock()
	files, bytes, updates, errs, refused, answer := s.files, s.bytes, s.updates, s.pollErrors, s.refused, s.lastAnswer
	skipped, offline := len(s.skipped), 0.0
	if !s.offlineSince.IsZero() {
		offline = 1
	}
	s.mu.Unlock()
	gauge(descTreeSkipped, float64(skipped))
	gauge(descOffline, offline)
	gauge(descTreeFiles, float64(files))
	gauge(descTreeBytes, float64(bytes))
	counter(descTreeUpdates, float64(updates))
	counter(descTreeErrors, float64(errs))
	counter(descTreeRefused, float64(refused))
	gauge(descTreeAge, float64(answer.UnixNano())/1e9)
	st := c.m.root.Stats()
	counter(descLookups, float64(st.Lookups))
	counter(descNegLookups, float64(st.NegativeLookups))
	counter(descOpens, float64(st.Opens))
	counter(descReads, float64(st.Reads))
	counter(descReadBytes, float64(st.ReadBytes))
	counter(descReadErrors, float64(st.ReadErrors))
	if p := c.m.prefetch; p != nil {
		counter(descPrefetchBytes, float64(p.fetchedBytes.Load()))
		counter(descPrefetchFiles, float64(p.fetchedFiles.Load()))
		gauge(descPrefetchPending, float64(p.pending()))
	}
}

// timedContent times every read the file system asks for: a histogram of
// read latency, cache hits and faults from regions alike (the client's
// bootfs_rack_region_fetch_seconds times the fetches alone).
type timedContent struct {
	c    fs.Content
	hist prometheus.Histogram
}

func newTimedContent(c fs.Content, reg prometheus.Registerer) *timedContent {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "bootfs_rack_read_seconds",
		Help:    "Time to serve one FUSE read, from memory, the disk cache or the regions.",
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18),
	})
	reg.MustRegister(h)
	return &timedContent{c: c, hist: h}
}

// ReadAt implements fs.Content.
func (t *timedContent) ReadAt(ctx context.Context, d digest.Digest, size int64, p []byte, off int64) (int, error) {
	start := time.Now()
	n, err := t.c.ReadAt(ctx, d, size, p, off)
	t.hist.Observe(time.Since(start).Seconds())
	return n, err
}

// Backing implements fs.Backer for the wrapped Content. Reads through a
// backing file are the kernel's and are not timed.
func (t *timedContent) Backing(ctx context.Context, d digest.Digest, size int64) (int, func(), bool) {
	if b, ok := t.c.(fs.Backer); ok {
		return b.Backing(ctx, d, size)
	}
	return -1, nil, false
}

// Lend implements fs.Lender for the wrapped Content, timed as ReadAt is.
func (t *timedContent) Lend(ctx context.Context, d digest.Digest, size, off int64, n int, load func(fd int, off int64) bool) ([][]byte, func(), error) {
	l, ok := t.c.(fs.Lender)
	if !ok {
		return nil, nil, nil
	}
	start := time.Now()
	bufs, release, err := l.Lend(ctx, d, size, off, n, load)
	if err != nil || release != nil {
		t.hist.Observe(time.Since(start).Seconds())
	}
	return bufs, release, err
}
