package region

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// loadMetricsToken reads Config.MetricsTokenFile: the read-only credential
// Prometheus scrapes /metrics with. It must exist (an operator writes it and
// gives Prometheus a copy) and must not be the shared secret.
func loadMetricsToken(path string, secret []byte) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read metrics token: %w (create it with e.g. `openssl rand -hex 16 > %s`, or drop --metrics-token-file)", err, path)
	}
	tok := bytes.TrimSpace(b)
	if len(tok) == 0 {
		return nil, fmt.Errorf("metrics token file %s is empty: put a random token in it, e.g. `openssl rand -hex 16 > %s`", path, path)
	}
	if bytes.Equal(tok, secret) {
		return nil, errors.New("metrics token file " + path + " holds the shared secret: the token must differ " +
			"(it is the read-only credential given to Prometheus), e.g. `openssl rand -hex 16 > " + path + "`")
	}
	return tok, nil
}

// listenMetrics binds Config.MetricsListen, if set.
func (r *Region) listenMetrics() error {
	if r.cfg.MetricsListen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", r.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s (--metrics-listen): %w", r.cfg.MetricsListen, err)
	}
	r.metricsLn = ln
	return nil
}

// serveMetrics serves GET /metrics, and nothing else, without credentials
// on the separate metrics listener until ctx ends.
func (r *Region) serveMetrics(ctx context.Context) error {
	if r.metricsLn == nil {
		return nil
	}
	srv := &http.Server{
		Handler:           r.api.MetricsHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      time.Minute,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(r.metricsLn) }()
	r.log.Info("serving metrics without credentials", "listen", r.metricsLn.Addr().String(), "path", "/metrics")
	select {
	case err := <-errc:
		return fmt.Errorf("metrics listener: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// MetricsAddr is the address of the separate metrics listener, "" when
// there is none.
func (r *Region) MetricsAddr() string {
	if r.metricsLn == nil {
		return ""
	}
	return r.metricsLn.Addr().String()
}
