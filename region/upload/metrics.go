package upload

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Manager's Prometheus metrics; a nil *metrics counts
// nothing.
type metrics struct {
	bytes   prometheus.Counter
	outcome *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bootfs_region_upload_received_bytes_total",
			Help: "Bytes of custom image uploads received by this region.",
		}),
		outcome: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootfs_region_uploads_total",
			Help: "Custom image uploads finished on this region, by outcome (stored, refused).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.bytes, m.outcome)
	return m
}

func (m *metrics) received(n int64) {
	if m != nil && n > 0 {
		m.bytes.Add(float64(n))
	}
}

func (m *metrics) finished(outcome string) {
	if m != nil {
		m.outcome.WithLabelValues(outcome).Inc()
	}
}
