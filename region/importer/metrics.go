package importer

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the importer's Prometheus series.
type Metrics struct {
	runs     prometheus.Counter
	failures prometheus.Counter
	bytes    prometheus.Counter
	files    prometheus.Counter
	refused  prometheus.Counter
	resumes  prometheus.Counter
}

// NewMetrics registers the importer's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs:     prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_imports_total", Help: "Imports started."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_import_failures_total", Help: "Imports that ended in an error."}),
		bytes:    prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_import_bytes_total", Help: "Bytes downloaded from upstream."}),
		files:    prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_import_files_total", Help: "Files downloaded, verified and stored."}),
		refused:  prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_import_refused_total", Help: "Downloads refused: size or sha256 did not match the metadata."}),
		resumes:  prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_import_resumes_total", Help: "Downloads resumed with a Range request."}),
	}
	reg.MustRegister(m.runs, m.failures, m.bytes, m.files, m.refused, m.resumes)
	return m
}
