package sync

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the transfer counters. Upstream downloads count in all of
// them; peer copies only in Refused.
type Metrics struct {
	Bytes   prometheus.Counter
	Files   prometheus.Counter
	Refused prometheus.Counter
	Resumes prometheus.Counter
}

// NewMetrics registers the transfer series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Bytes:   prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_import_bytes_total", Help: "Bytes downloaded from upstream."}),
		Files:   prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_import_files_total", Help: "Files downloaded, verified and stored."}),
		Refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_import_refused_total", Help: "Downloads refused: size or sha256 did not match the metadata."}),
		Resumes: prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_import_resumes_total", Help: "Downloads resumed with a Range request."}),
	}
	reg.MustRegister(m.Bytes, m.Files, m.Refused, m.Resumes)
	return m
}
