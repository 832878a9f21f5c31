package client

import (
	"errors"
	"net"
	"strings"
	"syscall"
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
			Help: "Failed requests to each region, by kind: unreachable, timeout, stalled, unauthorized, not_found, corrupt, http (another status), other.",
		}, []string{"region", "kind"}),
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

func (m *metrics) failure(region string, err error, corrupt bool) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(region).Inc()
	m.errors.WithLabelValues(region, errorKind(err, corrupt)).Inc()
	if corrupt {
		m.verify.WithLabelValues(region).Inc()
	}
}

// errorKind sorts a failed request for the errors counter's kind label, so
// an operator can tell a region that is down from a wrong secret or a
// region sending bad data.
func errorKind(err error, corrupt bool) string {
	var nerr net.Error
	var operr *net.OpError
	switch {
	case corrupt || errors.Is(err, ErrCorrupt):
		return "corrupt"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, errStalled):
		return "stalled"
	case errors.As(err, &nerr) && nerr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.As(err, &operr) && operr.Op == "dial":
		return "unreachable"
	case err != nil && strings.Contains(err.Error(), "HTTP "):
		return "http"
	}
	return "other"
}
