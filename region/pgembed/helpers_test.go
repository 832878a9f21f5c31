package pgembed

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/bootfs/bootfs/internal/testpoll"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bootfs/bootfs/internal/testskip"
)

// stateDir returns a fresh directory that the postgres user can reach even
// when the tests run as root (t.TempDir's parents are mode 0700).
func stateDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgembed-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func needBinaries(t *testing.T) {
	t.Helper()
	if _, err := FindBinDir(); errors.Is(err, ErrNoBinaries) {
		testskip.Skip(t, "PostgreSQL server binaries are not installed (Debian package postgresql)")
	}
}

// testWriter sends log output to t.Log until the test ends.
type testWriter struct {
	mu   sync.Mutex // guards t and done
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { // registered first, so it runs after the servers stop
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startTest starts a server with fast supervision and registers its Stop.
func startTest(t *testing.T, o Options, tune func(*Server)) *Server {
	t.Helper()
	if o.Log == nil {
		o.Log = testLogger(t)
	}
	s, err := newServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.retry = restartBackOff(10*time.Millisecond, 2)
	s.healthyAfter = time.Hour
	s.initNoSync = true
	if tune != nil {
		tune(s)
	}
	if err := s.start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return s
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func (s *Server) currentPid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.pid
}

func processExists(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// waitFor polls cond until it holds, failing the test after a generous bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testpoll.Until(t, 90*time.Second, what, cond)
}
