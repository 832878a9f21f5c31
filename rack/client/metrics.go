package client

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Client's Prometheus collectors; a nil *metrics records
// nothing.
type metrics struct {
	bytes    *prometheus.CounterVec
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	verify   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	region := []string{"region"}
	m := &metrics{
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootfs_rack_region_fetched_bytes_total",
			Help: "File bytes fetched (and verified) from each region.",
		}, region),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootfs_rack_region_requests_total",
			Help: "Requests sent to each region.",
		}, region),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootfs_rack_region_errors_total",
			Help: "Failed requests to each region (refused, timed out, 5xx, corrupt).",
		}, region),
		verify: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootfs_rack_region_verify_failures_total",
			Help: "Responses from each region whose bytes or digests did not verify.",
		}, region),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bootfs_rack_region_fetch_seconds",
			Help:    "Time to fetch and verify one block range from a region.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, region),
	}
	var err error
	if m.bytes, err = register(reg, m.bytes); err != nil {
		return nil, err
	}
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	if m.verify, err = register(reg, m.verify); err != nil {
		return nil, err
	}
	if m.latency, err = register(reg, m.latency); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the identical collector registered
// before (so that several Clients can share a registry).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(T); ok {
			return old, nil
		}
	}
	return c, err
}

// observe records a successful request that brought n file bytes in d (d 0:
// not a block fetch, no latency).
func (m *metrics) observe(region string, n int64, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(region).Inc()
	if n > 0 {
		m.bytes.WithLabelValues(region).Add(float64(n))
	}
	if d > 0 {
		m.latency.WithLabelValues(region).Observe(d.Seconds())
	}
}

func (m *metrics) request(region string) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(region).Inc()
}

func (m *metrics) failure(region string, corrupt bool) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(region).Inc()
	m.errors.WithLabelValues(region).Inc()
	if corrupt {
		m.verify.WithLabelValues(region).Inc()
	}
}
