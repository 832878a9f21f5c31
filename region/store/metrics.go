package store

import "github.com/prometheus/client_golang/prometheus"

// metrics are the store's Prometheus metrics. A nil *metrics (no registerer
// given) ignores every call.
type metrics struct {
	bytesWritten prometheus.Counter
	commits      prometheus.Counter
	corrupt      prometheus.Counter
	quarantines  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, d *Disk) (*metrics, error) {
	m := &metrics{
		bytesWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bootfs_region_store_written_bytes_total",
			Help: "Bytes written into the region store (partial files included).",
		}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bootfs_region_store_commits_total",
			Help: "Blobs verified and committed to the region store.",
		}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bootfs_region_store_corrupt_writes_total",
			Help: "Writes refused because of a wrong size or sha256.",
		}),
		quarantines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bootfs_region_store_quarantined_files_total",
			Help: "Stored files moved to quarantine since start.",
		}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	cs := []prometheus.Collector{
		m.bytesWritten, m.commits, m.corrupt, m.quarantines,
		gauge("bootfs_region_store_files", "Blobs in the region store.", func() float64 {
			n, _, _ := d.Usage()
			return float64(n)
		}),
		gauge("bootfs_region_store_bytes", "Bytes of blobs in the region store.", func() float64 {
			_, b, _ := d.Usage()
			return float64(b)
		}),
		gauge("bootfs_region_store_quarantine_files", "Files in the store's quarantine.", func() float64 {
			_, _, q := d.Usage()
			return float64(q)
		}),
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) written(n int) {
	if m != nil {
		m.bytesWritten.Add(float64(n))
	}
}

func (m *metrics) committed() {
	if m != nil {
		m.commits.Inc()
	}
}

func (m *metrics) corrupted() {
	if m != nil {
		m.corrupt.Inc()
	}
}

func (m *metrics) quarantined() {
	if m != nil {
		m.quarantines.Inc()
	}
}
