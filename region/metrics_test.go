package region_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/promcheck"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region"
)

// logBuffer collects a region's log lines.
type logBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(l.b.String(), "\n")
}

// twoRegions starts r1 (with a metrics token file and a separate metrics
// listener) and returns a function starting r2 on the same database and
// secret, logging into log2.
func twoRegions(t *testing.T) (r1 *regiontest.Region, startR2 func() *regiontest.Region, log2 *logBuffer, token string) {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	dir := t.TempDir()
	secret, tokenFile := filepath.Join(dir, "secret"), filepath.Join(dir, "metrics-token")
	mustWrite(t, secret, "cluster-secret\n")
	token = "prometheus-reads-only"
	mustWrite(t, tokenFile, token+"\n")
	log2 = &logBuffer{}
	r1 = regiontest.StartRegion(t, regiontest.Options{Name: "r1", DatabaseURL: dbURL, SecretFile: secret, Config: func(c *region.Config) {
		c.MetricsTokenFile, c.MetricsListen = tokenFile, "127.0.0.1:0"
	}})
	startR2 = func() *regiontest.Region {
		return regiontest.StartRegion(t, regiontest.Options{Name: "r2", DatabaseURL: dbURL, SecretFile: secret, Config: func(c *region.Config) {
			c.SyncInterval = time.Second
			c.Log = slog.New(slog.NewTextHandler(io.MultiWriter(log2, testLogWriter{t}), nil))
		}})
	}
	return r1, startR2, log2, token
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(b []byte) (int, error) {
	defer func() { _ = recover() }() // a line after the test ended
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestMetricsPassPromtool scrapes two real regions after an import on one
// and a peer sync on the other, and runs `promtool check metrics` on both
// scrapes: names, types, suffixes and help texts follow Prometheus'
// conventions, and every series of a region has the bootfs_region_ prefix
// (besides the Go runtime's and the process's). It also checks that peer
// copies log as component=sync.
func TestMetricsPassPromtool(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	r1, startR2, log2, _ := twoRegions(t)
	r1.AddSource(t, m)
	if err := r1.ImportNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	// r2 starts after the import: it copies everything from r1 (started
	// before, it could win download claims and fetch from upstream too).
	r2 := startR2()
	converged(t, []*regiontest.Region{r1, r2}, 30*time.Second)
	r1.Tree(t) // one timed request at least on each
	r2.Tree(t)

	name := regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`)
	for _, r := range []*regiontest.Region{r1, r2} {
		var scrape []byte
		// A request is counted once its handler returned, which can be
		// just after the client has the answer.
		regiontest.Eventually(t, 10*time.Second, "the tree request in "+r.Name()+"'s metrics", func() bool {
			scrape = promcheck.Scrape(t, r.URL()+wire.PathMetrics, "Bearer "+r.Secret)
			return strings.Contains(string(scrape), `bootfs_region_http_request_duration_seconds_count{code="2xx",endpoint="tree"}`)
		})
		promcheck.Check(t, scrape)
		for _, mm := range name.FindAllStringSubmatch(string(scrape), -1) {
			n := mm[1]
			if !strings.HasPrefix(n, "bootfs_region_") && !strings.HasPrefix(n, "go_") && !strings.HasPrefix(n, "process_") {
				t.Errorf("%s exports %s (%s): every region series starts with bootfs_region_", r.Name(), n, mm[2])
			}
		}
		for _, want := range []string{
			`bootfs_region_http_request_duration_seconds_bucket{code="2xx",endpoint="tree"`,
			"bootfs_region_store_files ", "bootfs_region_store_bytes ", "bootfs_region_import_progress_done_bytes ",
			"# TYPE bootfs_region_import_duration_seconds histogram", "# TYPE bootfs_region_sync_duration_seconds histogram",
		} {
			if !strings.Contains(string(scrape), want) {
				t.Errorf("%s's metrics lack %q", r.Name(), want)
			}
		}
	}
	s1 := string(promcheck.Scrape(t, r1.URL()+wire.PathMetrics, "Bearer "+r1.Secret))
	s2 := string(promcheck.Scrape(t, r2.URL()+wire.PathMetrics, "Bearer "+r2.Secret))
	for _, want := range []string{"bootfs_region_import_duration_seconds_count 1", "bootfs_region_imports_total 1"} {
		if !strings.Contains(s1, want) {
			t.Errorf("r1's metrics lack %q", want)
		}
	}
	if regexp.MustCompile(`(?m)^bootfs_region_sync_bytes_total 0$`).MatchString(s2) || !strings.Contains(s2, "bootfs_region_sync_files_total ") {
		t.Errorf("r2 copied from r1 but its sync counters say nothing:\n%s", grepLines(s2, "bootfs_region_sync_"))
	}
	if !regexp.MustCompile(`(?m)^bootfs_region_import_bytes_total 0$`).MatchString(s2) {
		t.Errorf("r2 downloaded nothing from upstream but counts import bytes:\n%s", grepLines(s2, "bootfs_region_import_bytes"))
	}

	// Peer copies log as component=sync, not import.
	stored := 0
	for _, l := range log2.lines() {
		if strings.Contains(l, "msg=stored") && strings.Contains(l, wire.PathBlobs) {
			stored++
			if !strings.Contains(l, "component=sync") || strings.Contains(l, "component=import") {
				t.Errorf("peer copy not logged as component=sync: %s", l)
			}
		}
	}
	if stored == 0 {
		t.Error("r2 logged no file copied from a peer")
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsToken checks the read-only metrics credential: the token reads
// /metrics and is refused everywhere else (reads and changes alike), and
// the separate metrics listener serves /metrics without credentials and
// nothing else.
func TestMetricsToken(t *testing.T) {
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r1, _, _, token := twoRegions(t)
	do := func(method, url, auth string) int {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/login" {
			// The console's answer to a browser without a session:
			// its login form, nothing else.
			return http.StatusUnauthorized
		}
		return resp.StatusCode
	}
	basic := func(pass string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth("prometheus", pass)
		return req.Header.Get("Authorization")
	}
	for _, auth := range []string{"Bearer " + token, basic(token)} {
		if code := do("GET", r1.URL()+wire.PathMetrics, auth); code != http.StatusOK {
			t.Errorf("GET /metrics with the metrics token (%s): %d, want 200", auth[:6], code)
		}
		for _, rq := range []struct{ method, path string }{
			{"GET", wire.PathTree}, {"GET", wire.PathStatus}, {"GET", "/"}, {"GET", wire.PathImport},
			{"POST", wire.PathImport}, {"GET", wire.PathSources}, {"POST", wire.PathSources}, {"DELETE", wire.PathSources},
			{"GET", wire.PathRegions}, {"DELETE", wire.PathRegions + "/r2"},
			{"GET", wire.PathBlobs + strings.Repeat("0", 64)},
		} {
			if code := do(rq.method, r1.URL()+rq.path, auth); code != http.StatusUnauthorized && code != http.StatusForbidden {
				t.Errorf("%s %s with the metrics token: %d, want 401 or 403", rq.method, rq.path, code)
			}
		}
	}
	if code := do("GET", r1.URL()+wire.PathMetrics, "Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("GET /metrics with a wrong token: %d, want 401", code)
	}
	if code := do("GET", r1.URL()+wire.PathMetrics, "Bearer "+r1.Secret); code != http.StatusOK {
		t.Errorf("GET /metrics with the shared secret: %d, want 200", code)
	}

	// The separate listener: /metrics without credentials, nothing else.
	addr := r1.MetricsAddr()
	if addr == "" {
		t.Fatal("no metrics listener")
	}
	scrape := promcheck.Scrape(t, "http://"+addr+wire.PathMetrics, "")
	if !strings.Contains(string(scrape), "bootfs_region_store_files") {
		t.Error("metrics listener does not serve the region's metrics")
	}
	for _, rq := range []struct{ method, path string }{{"GET", wire.PathTree}, {"POST", wire.PathImport}, {"GET", "/"}, {"GET", wire.PathStatus}} {
		if code := do(rq.method, "http://"+addr+rq.path, "Bearer "+r1.Secret); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s on the metrics listener: %d, want 404", rq.method, rq.path, code)
		}
	}
}

// TestMetricsTokenRefusesTheSecret: a metrics token equal to the shared
// secret would hand Prometheus the write secret; the region refuses it.
func TestMetricsTokenRefusesTheSecret(t *testing.T) {
	dir := t.TempDir()
	secret, tokenFile := filepath.Join(dir, "secret"), filepath.Join(dir, "token")
	mustWrite(t, secret, "same\n")
	mustWrite(t, tokenFile, "same\n")
	_, err := region.Open(context.Background(), region.Config{Name: "r", Listen: "127.0.0.1:0", SecretFile: secret,
		MetricsTokenFile: tokenFile, DatabaseURL: "postgres://unused.invalid/x", Storage: filepath.Join(dir, "store")})
	if err == nil || !strings.Contains(err.Error(), "holds the shared secret") {
		t.Fatalf("Open = %v, want a refusal naming the token file", err)
	}
}
