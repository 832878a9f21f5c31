// Package pgtest runs tests against a real PostgreSQL server.
//
// A test package opts in with
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and each test that needs a database calls NewDatabase, which creates a
// fresh, empty database with a unique name and drops it when the test ends.
//
// The server is the one named by $BOOTFS_TEST_DATABASE_URL (`make test`
// starts a throwaway server and sets it to a maintenance URL whose role may
// create databases). Without it, the first test that needs a database
// starts a private server with pgembed in a temporary directory (with fsync
// off: its data is thrown away), and Main stops and removes it once the
// tests have run. Packages whose selected tests need no database never
// start one.
//
// If no server is configured and no PostgreSQL binaries are installed,
// NewDatabase and ServerURL skip the test, saying so.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/testskip"
	"github.com/bootfs/bootfs/region/pgembed"
)

// EnvURL names the environment variable holding the maintenance URL of an
// existing server to use instead of starting one.
const EnvURL = "BOOTFS_TEST_DATABASE_URL"

var (
	mu         sync.Mutex      // guards the variables below
	mainCalled bool            // Main is running the tests
	serverURL  string          // maintenance URL, once known
	startErr   error           // why starting the private server failed
	tried      bool            // a private server start was attempted
	embedded   *pgembed.Server // the private server, if started
	tempDir    string          // its state directory
)

// Main runs the package's tests (m.Run), then stops and removes the private
// server if one was started, and exits with m.Run's code. Call it from
// TestMain.
func Main(m *testing.M) {
	mu.Lock()
	mainCalled = true
	serverURL = os.Getenv(EnvURL)
	mu.Unlock()

	code := m.Run()

	mu.Lock()
	defer mu.Unlock()
	if embedded != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := embedded.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stopping the private PostgreSQL: %v\n", err)
		}
		cancel()
	}
	if tempDir != "" {
		if err := os.RemoveAll(tempDir); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: removing %s: %v\n", tempDir, err)
		}
	}
	os.Exit(code)
}

// ServerURL returns the server's maintenance URL, whose role may create
// databases (for tests that need more than one, e.g. a legacy MAAS
// database). Databases made through it are the test's to drop.
func ServerURL(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !mainCalled {
		t.Fatal("pgtest: the package's TestMain must call pgtest.Main(m)")
	}
	if serverURL != "" {
		return serverURL
	}
	if !tried {
		tried = true
		startErr = startPrivate()
	}
	if errors.Is(startErr, pgembed.ErrNoBinaries) {
		testskip.Skipf(t, "no PostgreSQL server for this test: %s is unset and %v; `make test` installs them", EnvURL, startErr)
	}
	if startErr != nil {
		t.Fatalf("pgtest: %v", startErr)
	}
	return serverURL
}

// startPrivate starts the private server; mu is held.
func startPrivate() error {
	if _, err := pgembed.FindBinDir(); err != nil {
		return err
	}
	sweep()
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	tempDir = dir
	// Root runs postgres as the postgres user, which must reach the dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgembed.Start(ctx, pgembed.Options{
		Dir:      dir,
		Database: "postgres",
		Settings: map[string]string{
			"fsync":              "off",
			"synchronous_commit": "off",
			"full_page_writes":   "off",
			"max_connections":    "200",
		},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return fmt.Errorf("start a private PostgreSQL in %s: %w", dir, err)
	}
	embedded = srv
	serverURL = srv.URL()
	return nil
}

// NewDatabase creates an empty database with a unique name for this test
// and returns its URL. A cleanup drops it, disconnecting whatever is still
// connected.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: the server URL must be a postgres:// URL, got %q", base)
	}
	name := databaseName(t.Name())
	if err := execSQL(base, "CREATE DATABASE "+quote(name)); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := execSQL(base, "DROP DATABASE IF EXISTS "+quote(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// databaseName makes a unique, valid identifier (at most 63 bytes) that
// still says which test it belongs to.
func databaseName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	slug := b.String()
	if len(slug) > 40 {
		slug = slug[:40]
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return "t_" + slug + "_" + hex.EncodeToString(rnd[:])
}

func quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}
