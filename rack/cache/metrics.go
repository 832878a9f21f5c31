package cache

import "github.com/prometheus/client_golang/prometheus"

// collector exports Stats as Prometheus metrics, read at scrape time so the
// cache keeps one set of counters.
type collector struct {
	c                                            *Cache
	hits, misses, evictions, corrupt, diskErrors *prometheus.Desc
	backings, writes                             *prometheus.Desc
	used, limit, blocks, files, degraded         *prometheus.Desc
}

var _ prometheus.Collector = (*collector)(nil)

func newCollector(c *Cache) *collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("bootfs_rack_cache_"+name, help, nil, nil)
	}
	return &collector{
		c:          c,
		hits:       d("hits_total", "Block reads served from the cache."),
		misses:     d("misses_total", "Block reads not served: absent, or discarded as corrupt or unreadable."),
		evictions:  d("evictions_total", "Blocks evicted to stay within the limit."),
		corrupt:    d("corrupt_total", "Cached blocks discarded as torn, corrupt or missing."),
		diskErrors: d("disk_errors_total", "Failed writes, reads, syncs and removals in the cache directory."),
		backings:   d("passthrough_files_total", "Whole cached files handed to the kernel to read directly (FUSE passthrough; overlapping opens of a file share one)."),
		writes: prometheus.NewDesc("bootfs_rack_cache_writes_total",
			"Blocks written to the cache, by how: direct (O_DIRECT, no page-cache copy) or buffered (through the page cache: the cache_write=buffered mount option, an unaligned buffer, or a file system without O_DIRECT).",
			[]string{"mode"}, nil),
		used:     d("used_bytes", "Bytes of cached blocks plus puts in flight."),
		limit:    d("limit_bytes", "Most bytes of block data kept."),
		blocks:   d("blocks", "Cached blocks."),
		files:    d("files", "Distinct files with cached blocks."),
		degraded: d("degraded", "1 while the cache is not storing blocks after a disk error."),
	}
}

func (m *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.hits, m.misses, m.evictions, m.corrupt, m.diskErrors, m.backings, m.writes,
		m.used, m.limit, m.blocks, m.files, m.degraded} {
		ch <- d
	}
}

func (m *collector) Collect(ch chan<- prometheus.Metric) {
	s := m.c.Stats()
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(m.hits, s.Hits)
	counter(m.misses, s.Misses)
	counter(m.evictions, s.Evictions)
	counter(m.corrupt, s.Corrupt)
	counter(m.diskErrors, s.DiskErrors)
	counter(m.backings, s.Backings)
	ch <- prometheus.MustNewConstMetric(m.writes, prometheus.CounterValue, float64(s.DirectWrites), "direct")
	ch <- prometheus.MustNewConstMetric(m.writes, prometheus.CounterValue, float64(s.BufferedWrites), "buffered")
	gauge(m.used, s.Used)
	gauge(m.limit, s.Limit)
	gauge(m.blocks, int64(s.Blocks))
	gauge(m.files, int64(s.Files))
	degraded := int64(0)
	if s.Degraded {
		degraded = 1
	}
	gauge(m.degraded, degraded)
}
