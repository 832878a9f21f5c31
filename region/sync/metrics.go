package sync

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the transfer counters and run durations. The exported
// counters are the upstream downloads'; peer copies count in a second set
// of the same counters (bootfs_region_sync_*), so an operator sees what
// came from upstream apart from what regions copied from each other.
type Metrics struct {
	Bytes   prometheus.Counter
	Files   prometheus.Counter
	Refused prometheus.Counter
	Resumes prometheus.Counter

	peer           *Metrics // the same counters for copies from peer regions
	syncs          prometheus.Counter
	syncFailures   prometheus.Counter
	importDuration prometheus.Histogram
	syncDuration   prometheus.Histogram
}

// runBuckets span a second to about four and a half hours.
var runBuckets = prometheus.ExponentialBuckets(1, 2, 15)

// NewMetrics registers the transfer series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &Metrics{
		Bytes:   counter("bootfs_region_import_bytes_total", "Bytes downloaded from upstream."),
		Files:   counter("bootfs_region_import_files_total", "Files downloaded from upstream, verified and stored."),
		Refused: counter("bootfs_region_import_refused_total", "Upstream downloads refused: size or sha256 did not match the metadata."),
		Resumes: counter("bootfs_region_import_resumes_total", "Upstream downloads resumed with a Range request."),
		peer: &Metrics{
			Bytes:   counter("bootfs_region_sync_bytes_total", "Bytes copied from peer regions."),
			Files:   counter("bootfs_region_sync_files_total", "Files copied from peer regions, verified and stored."),
			Refused: counter("bootfs_region_sync_refused_total", "Copies from peer regions refused: size or sha256 did not match."),
			Resumes: counter("bootfs_region_sync_resumes_total", "Copies from peer regions resumed with a Range request."),
		},
		syncs:        counter("bootfs_region_syncs_total", "Peer syncs started (a sync copies what this region lacks without reading upstream metadata)."),
		syncFailures: counter("bootfs_region_sync_failures_total", "Peer syncs that ended in an error."),
		importDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bootfs_region_import_duration_seconds", Help: "Duration of imports (metadata and downloads), whatever their outcome.",
			Buckets: runBuckets,
		}),
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bootfs_region_sync_duration_seconds", Help: "Duration of peer syncs, whatever their outcome.",
			Buckets: runBuckets,
		}),
	}
	reg.MustRegister(m.Bytes, m.Files, m.Refused, m.Resumes,
		m.peer.Bytes, m.peer.Files, m.peer.Refused, m.peer.Resumes,
		m.syncs, m.syncFailures, m.importDuration, m.syncDuration)
	return m
}

// peers returns the counters of copies from peer regions (nil for nil).
func (m *Metrics) peers() *Metrics {
	if m == nil {
		return nil
	}
	return m.peer
}

// refused counts a refused transfer.
func (m *Metrics) refused() {
	if m != nil {
		m.Refused.Inc()
	}
}

// ran records a run of kind ("import" or "sync") that took d; failed
// reports whether it ended in an error. Imports are counted by the
// importer, which knows their outcome in more detail.
func (m *Metrics) ran(kind string, d time.Duration, failed bool) {
	if m == nil {
		return
	}
	switch kind {
	case "import":
		m.importDuration.Observe(d.Seconds())
	case "sync":
		m.syncDuration.Observe(d.Seconds())
		m.syncs.Inc()
		if failed {
			m.syncFailures.Inc()
		}
	}
}
