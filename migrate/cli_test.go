package migrate

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/testskip"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/pgembed"
	"github.com/bootfs/bootfs/region/store"
)

// buildRegion builds cmd/bootfs-region (GOFLAGS from the environment apply).
func buildRegion(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build bootfs-region: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "bootfs-region")
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/bootfs/bootfs/cmd/bootfs-region").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "migrate", "--help").CombinedOutput(); err != nil {
		t.Fatalf("bootfs-region has no migrate command (main.go must list migrateCommand()): %v\n%s", err, out)
	}
	return bin
}

// With no --database-url, the CLI uses the embedded PostgreSQL under
// --state-dir; when a region already runs it there (pgembed.ErrRunning),
// the CLI connects to that server instead of failing.
func TestCLIUsesRunningEmbeddedDatabase(t *testing.T) {
	t.Parallel()
	if _, err := pgembed.FindBinDir(); errors.Is(err, pgembed.ErrNoBinaries) {
		testskip.Skip(t, "PostgreSQL server binaries are not installed (Debian package postgresql)")
	}
	ctx := context.Background()
	bin := buildRegion(t)
	f := newFixture(t, false, 0)
	// The postgres user must reach the state directory (t.TempDir's
	// parents are mode 0700).
	state, err := os.MkdirTemp("", "bootfs-migrate-state-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := pgembed.Start(ctx, pgembed.Options{Dir: state, Settings: map[string]string{"fsync": "off"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = srv.Stop(sctx)
	})

	dir := filepath.Join(t.TempDir(), "store")
	out, err := exec.Command(bin, "migrate", "--from-database", f.url, "--state-dir", state, "--storage", dir,
		"--name", "region1", "--yes").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "using the embedded PostgreSQL of the region running") {
		t.Fatalf("migrate with a running embedded database: %v\n%s", err, out)
	}
	d, err := db.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	regions, err := d.Regions(ctx)
	if err != nil || len(regions) != 1 || regions[0].Name != "region1" {
		t.Fatalf("regions %+v, %v", regions, err)
	}
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	verifyMigrated(t, f, &region{db: d, store: st, id: regions[0].ID, name: "region1", url: srv.URL()})
}
