package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bootfs/bootfs/internal/wire"
)

// metrics are the API's own series. Every name starts with
// bootfs_region_http_ and follows Prometheus' conventions (docs/operations.md
// lists them).
type metrics struct {
	requests *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootfs_region_http_requests_total", Help: "HTTP requests by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bootfs_region_http_sent_bytes_total", Help: "Response body bytes sent, by endpoint.",
		}, []string{"endpoint"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bootfs_region_http_request_duration_seconds",
			Help: "Time from a request's arrival to the end of its response, by endpoint and status code class (2xx, 4xx, ...). " +
				"Tree long-polls and large file bodies take long by design.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1ms to about 4.4 min
		}, []string{"endpoint", "code"}),
	}
	reg.MustRegister(m.requests, m.bytes, m.duration)
	return m
}

// observe counts a finished request to endpoint, timed from when timed saw
// it arrive (a writer that did not pass through timed is not timed).
func (m *metrics) observe(endpoint string, w *countingWriter) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(w.code)).Inc()
	m.bytes.WithLabelValues(endpoint).Add(float64(w.n))
	if start, ok := arrival(w.ResponseWriter); ok {
		m.duration.WithLabelValues(endpoint, codeClass(w.code)).Observe(time.Since(start).Seconds())
	}
}

// codeClass is "2xx" for 200 and so on.
func codeClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}

// RegionHeader is set on every answer of a region's API (its value is the
// region's name), so that a client can tell a region from another service
// on the same address (the CLI says so instead of printing a web server's
// 404 page). Unlike Server, reverse proxies pass it on.
const RegionHeader = "Bootfs-Region"

// timed notes when each request arrives, for the duration histogram: it
// hands the handlers a writer that carries the time (see arrival). It also
// sets RegionHeader to region.
func timed(region string, h http.Handler) http.Handler {
	if region == "" || strings.ContainsFunc(region, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		region = "bootfs-region" // a header value is printable ASCII
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(RegionHeader, region)
		h.ServeHTTP(&arrivedWriter{ResponseWriter: w, start: time.Now()}, r)
	})
}

// arrivedWriter is a ResponseWriter that knows when its request arrived.
// Like countingWriter it keeps ReadFrom (sendfile) and Flush.
type arrivedWriter struct {
	http.ResponseWriter
	start time.Time
}

func (w *arrivedWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(w.ResponseWriter, r)
}

func (w *arrivedWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *arrivedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// arrival finds the arrival time in w or the writers it wraps.
func arrival(w http.ResponseWriter) (time.Time, bool) {
	for w != nil {
		if a, ok := w.(*arrivedWriter); ok {
			return a.start, true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	return time.Time{}, false
}

// metricsRoute serves GET /metrics to a client with the shared secret (as
// every endpoint) or with the read-only metrics token (Deps.MetricsToken),
// which opens nothing else: Prometheus can scrape without holding the
// secret that changes sources, starts imports and reads boot files. The
// token is sent like the secret: "Authorization: Bearer <token>"
// (Prometheus' authorization.credentials_file) or as a Basic password.
func (s *Server) metricsRoute() http.Handler {
	h := promhttp.HandlerFor(s.d.Registry, promhttp.HandlerOpts{})
	withSecret := s.auth("metrics", h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.metricsToken(r) {
			withSecret.ServeHTTP(w, r)
			return
		}
		cw := &countingWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() { s.m.observe("metrics", cw) }()
		h.ServeHTTP(cw, r)
	})
}

// metricsToken reports whether r carries the metrics token, comparing in
// constant time.
func (s *Server) metricsToken(r *http.Request) bool {
	if len(s.d.MetricsToken) == 0 {
		return false
	}
	var got string
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = strings.TrimSpace(tok)
	} else if _, pass, ok := r.BasicAuth(); ok {
		got = pass
	} else {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256(s.d.MetricsToken)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// MetricsHandler serves only GET /metrics, without any credential, for a
// separate listener (serve --metrics-listen) that only Prometheus can
// reach; every other path is 404 there.
func (s *Server) MetricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.d.Registry, promhttp.HandlerOpts{})
	mux := http.NewServeMux()
	mux.Handle("GET "+wire.PathMetrics, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() { s.m.observe("metrics", cw) }()
		h.ServeHTTP(cw, r)
	}))
	return timed(s.d.Region, mux)
}

// countingWriter records the status code and body bytes. It keeps the
// underlying writer's ReadFrom so file bodies still go out with sendfile.
type countingWriter struct {
	http.ResponseWriter
	code        int
	n           int64
	wroteHeader bool
}

func (w *countingWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	w.wroteHeader = true
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(w.ResponseWriter, r)
	}
	w.n += n
	return n, err
}

// Flush lets long-polls and progress streams flush.
func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
