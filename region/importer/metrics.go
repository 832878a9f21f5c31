package importer

import (
	"github.com/prometheus/client_golang/prometheus"

	regionsync "github.com/bootfs/bootfs/region/sync"
)

// Metrics are the importer's Prometheus series.
type Metrics struct {
	runs     prometheus.Counter
	failures prometheus.Counter
	transfer *regionsync.Metrics // bytes, files, refusals, resumes
}

// NewMetrics registers the importer's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs:     prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_imports_total", Help: "Imports started."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "bootfs_region_import_failures_total", Help: "Imports that ended in an error."}),
	}
	reg.MustRegister(m.runs, m.failures)
	m.transfer = regionsync.NewMetrics(reg)
	return m
}
