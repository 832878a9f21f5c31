// Package httpapi is the region's HTTP API (default port 5240): the boot
// tree listing racks poll, file bytes by sha256 (and MAAS's
// /MAAS/boot-resources/ form), block digests, status (JSON and a small HTML
// page), the import trigger and Prometheus metrics. Every endpoint but the
// health check requires the shared secret; see auth.go. Paths and JSON types
// are in internal/wire.
package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
	"github.com/bootfs/bootfs/region/tree"
)

// Deps is what the API serves from.
type Deps struct {
	Region string // this region's name
	Secret []byte // the shared secret; must not be empty
	DB     *db.DB
	Store  *store.Disk
	Tree   *tree.Watcher
	// ImportStatus reports the local importer's progress.
	ImportStatus func() wire.ImportStatus
	// StartImport asks for an import now; it must not block on the import.
	StartImport func() error
	// StopImport stops the running import on every region (importapi.go);
	// it must not block on the import ending.
	StopImport func(ctx context.Context) error
	// Unavailable, if it returns a non-empty reason, makes file endpoints
	// answer 503 with it (e.g. during the one-time migration).
	Unavailable func() string
	// Migrating describes migration progress for status, "" when none.
	Migrating func() string
	// OnCorrupt, if set, is called with each stored file found damaged
	// while serving, after it was quarantined, so the region forgets it
	// and fetches it again. It must not block.
	OnCorrupt func(digest.Digest)
	// Retire retires the sets no source selects any more (or that a
	// source of higher priority carries) and says how many; the sources
	// and images handlers call it so that a change takes effect at once.
	// nil: the regions' cleanup loops do it soon after.
	Retire func(context.Context) (int64, error)
	// Upstream fetches mirror metadata (sources add/update checks,
	// sources available); nil: a client with sane timeouts and the
	// environment's proxy.
	Upstream *http.Client
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Timeouts; zero values get the defaults below.
	ReadHeaderTimeout time.Duration // the request line and headers must arrive within it (default 10s)
	IdleTimeout       time.Duration // an idle keep-alive connection is closed after it (default 2m)
	// WriteTimeout bounds writing a response. Two exceptions by design:
	// a tree long-poll gets its wait on top, and a file body gets it per
	// write (a body of any size goes out while the client keeps reading;
	// a client that stops reading is cut after it). Default 1m.
	WriteTimeout time.Duration

	// Uploads receives custom image uploads (wire.PathUploads); nil: 404.
	Uploads Uploads
	// MetricsToken, if not empty, is a read-only credential accepted for
	// GET /metrics and nothing else (see metricsRoute).
	MetricsToken []byte
}

// Default timeouts of Deps.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultWriteTimeout      = time.Minute
)

// Server is the region HTTP API.
type Server struct {
	d       Deps
	handler http.Handler
	m       *metrics
	blocks  blockCache
	trees   treeCache // the encoded boot tree (tree.go)
}

// New builds the API. It registers its metrics in d.Registry.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.ReadHeaderTimeout <= 0 {
		d.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if d.IdleTimeout <= 0 {
		d.IdleTimeout = DefaultIdleTimeout
	}
	if d.WriteTimeout <= 0 {
		d.WriteTimeout = DefaultWriteTimeout
	}
	s := &Server{d: d, m: newMetrics(d.Registry)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+wire.PathHealth, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET "+wire.PathTree, s.auth("tree", http.HandlerFunc(s.serveTree)))
	mux.Handle("GET "+wire.PathBlobs+"{sha}", s.auth("blob", http.HandlerFunc(s.serveBlob)))
	mux.Handle("GET "+wire.PathBlobs+"{sha}/blocks", s.auth("blocks", http.HandlerFunc(s.serveBlocks)))
	mux.Handle("GET "+wire.PathMAAS+"{name}", s.auth("maas", http.HandlerFunc(s.serveMAAS)))
	mux.Handle("GET "+wire.PathMAAS+"{name}/{rest...}", s.auth("maas", http.HandlerFunc(s.serveMAAS)))
	mux.Handle("GET "+wire.PathStatus, s.auth("status", http.HandlerFunc(s.serveStatus)))
	mux.Handle("GET "+wire.PathImport, s.auth("import", http.HandlerFunc(s.serveImportStatus)))
	mux.Handle("POST "+wire.PathImport, s.auth("import", http.HandlerFunc(s.startImport)))
	mux.Handle("POST "+wire.PathImportStop, s.auth("import", http.HandlerFunc(s.stopImport)))
	mux.Handle("GET "+wire.PathSources, s.auth("sources", http.HandlerFunc(s.listSources)))
	mux.Handle("POST "+wire.PathSources, s.auth("sources", http.HandlerFunc(s.addSource)))
	mux.Handle("PUT "+wire.PathSources, s.auth("sources", http.HandlerFunc(s.updateSource)))
	mux.Handle("DELETE "+wire.PathSources, s.auth("sources", http.HandlerFunc(s.removeSource)))
	mux.Handle("GET "+wire.PathAvailable, s.auth("sources", http.HandlerFunc(s.available)))
	mux.Handle("POST "+wire.PathAvailable, s.auth("sources", http.HandlerFunc(s.available)))
	mux.Handle("GET "+wire.PathImages, s.auth("images", http.HandlerFunc(s.listImages)))
	mux.Handle("DELETE "+wire.PathImages, s.auth("images", http.HandlerFunc(s.deleteImage)))
	mux.Handle("GET "+wire.PathRegions, s.auth("regions", http.HandlerFunc(s.listRegions)))
	mux.Handle("DELETE "+wire.PathRegions+"/{name}", s.auth("regions", http.HandlerFunc(s.removeRegion)))
	if d.Uploads != nil {
		mux.Handle("POST "+wire.PathUploads, s.auth("uploads", http.HandlerFunc(s.startUpload)))
		mux.Handle("PUT "+wire.PathUploads+"/{id}", s.auth("uploads", http.HandlerFunc(s.putUpload)))
		mux.Handle("GET "+wire.PathUploads+"/{id}", s.auth("uploads", http.HandlerFunc(s.getUpload)))
		mux.Handle("DELETE "+wire.PathUploads+"/{id}", s.auth("uploads", http.HandlerFunc(s.deleteUpload)))
	}
	mux.Handle("GET "+wire.PathMetrics, s.metricsRoute())
	mux.Handle("GET /{$}", s.auth("page", http.HandlerFunc(s.servePage)))
	mux.Handle("GET "+pathEvents, s.auth("page", http.HandlerFunc(s.serveEvents)))
	mux.Handle("POST "+pathActions+"{action...}", s.auth("console", http.HandlerFunc(s.consoleAction)))
	mux.HandleFunc("GET "+pathAssets+"{file}", s.serveAsset)
	mux.HandleFunc("GET "+pathLogin, s.serveLogin)
	mux.HandleFunc("POST "+pathLogin, s.login)
	mux.Handle("POST "+pathLogout, s.auth("console", http.HandlerFunc(s.logout)))
	s.handler = timed(d.Region, mux)
	return s
}

// ServeHTTP implements http.Handler. A path or query with a NUL, another
// control character or bytes that are not UTF-8 is answered 400 before it
// reaches a handler (no name in the database or the store has them).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if why := badRequestText(r); why != "" {
		http.Error(w, why, http.StatusBadRequest)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// badRequestText says what is wrong with r's path or query, or "".
func badRequestText(r *http.Request) string {
	if !cleanText(r.URL.Path) {
		return "invalid request path: it has a NUL, a control character or bytes that are not UTF-8"
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "invalid query string: " + err.Error()
	}
	for k, vs := range q {
		if !cleanText(k) {
			return "invalid query string: a parameter name has a NUL, a control character or bytes that are not UTF-8"
		}
		for _, v := range vs {
			if !cleanText(v) {
				return "invalid query parameter " + strconv.Quote(k) + ": it has a NUL, a control character or bytes that are not UTF-8"
			}
		}
	}
	return ""
}

func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// Serve serves on ln until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler: s,
		// Requests see ctx end, so long-polls return at shutdown instead
		// of holding it up.
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: s.d.ReadHeaderTimeout,
		IdleTimeout:       s.d.IdleTimeout,
		// Long-polls and file bodies move their own deadlines (see
		// Deps.WriteTimeout); everything else must be written in time.
		WriteTimeout: s.d.WriteTimeout,
		ErrorLog:     slog.NewLogLogger(s.d.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != http.ErrServerClosed {
		return err
	}
	return nil
}
