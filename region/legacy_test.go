package region_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/migrate"
	"github.com/bootfs/bootfs/region"
)

// legacyMigrator composes package migrate with the region, as
// cmd/bootfs-region does for serve (region itself never imports migrate;
// its tests may). yes takes the irreversible step.
type legacyMigrator struct {
	from string
	yes  bool
}

func (l legacyMigrator) Pending(ctx context.Context) (bool, error) {
	return migrate.Pending(ctx, l.from)
}

func (l legacyMigrator) Migrate(ctx context.Context, t region.LegacyTarget) error {
	o := migrate.Options{From: l.from, DB: t.DB, Store: t.Store, RegionID: t.RegionID, RegionName: t.RegionName,
		Log: t.Log, Progress: func(p migrate.Progress) { t.Progress(p.String()) }}
	if l.yes {
		o.Confirm = func(context.Context, migrate.Removal) (bool, error) { return true, nil }
	}
	_, err := migrate.Run(ctx, o)
	return err
}

// legacyKernel fills a MAAS 3.4 database (the DDL the migrate tests use)
// with one set: a kernel of size bytes in a large object, written in
// chunks. It returns the kernel's digest.
func legacyKernel(t *testing.T, url string, size int) digest.Digest {
	t.Helper()
	ctx := context.Background()
	ddl, err := os.ReadFile("../migrate/testdata/maas34.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, string(ddl)); err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{7})
	h := digest.New()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	los := tx.LargeObjects()
	oid, err := los.Create(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	lo, err := los.Open(ctx, oid, pgx.LargeObjectModeWrite)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for done := 0; done < size; {
		n := min(len(buf), size-done)
		_, _ = rng.Read(buf[:n])
		h.Write(buf[:n])
		if _, err := lo.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		done += n
	}
	sha := digest.FromHash(h)
	var lf, res, set int64
	if err := tx.QueryRow(ctx, `INSERT INTO maasserver_largefile (sha256, total_size, size, content) VALUES ($1, $2, $2, $3) RETURNING id`,
		sha.String(), size, oid).Scan(&lf); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO maasserver_bootresource (rtype, name, architecture, kflavor) VALUES (0, 'ubuntu/jammy', 'amd64/ga-22.04', 'generic') RETURNING id`).Scan(&res); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO maasserver_bootresourceset (version, label, resource_id) VALUES ('20250718', 'stable', $1) RETURNING id`, res).Scan(&set); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO maasserver_bootresourcefile (filename, filetype, extra, largefile_id, resource_set_id) VALUES ('boot-kernel', 'boot-kernel', '{}', $1, $2)`, lf, set); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return sha
}

func TestServeMigratesLegacyDatabase(t *testing.T) {
	for _, yes := range []bool{true, false} {
		t.Run(map[bool]string{true: "yes", false: "keep"}[yes], func(t *testing.T) { testServeMigrates(t, yes) })
	}
}

// testServeMigrates: a region serves the legacy kernel once migrated; the
// large object is deleted only when the migrator was told yes.
func testServeMigrates(t *testing.T, yes bool) {
	legacy := pgtest.NewDatabase(t)
	sha := legacyKernel(t, legacy, 160<<20)

	// While the migration runs, file endpoints answer 503 with the reason
	// and status shows progress.
	var saw503, sawProgress atomic.Bool
	stop := make(chan struct{})
	r := regiontest.StartRegion(t, regiontest.Options{Config: func(c *region.Config) { c.Legacy = legacyMigrator{from: legacy, yes: yes} }})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest("GET", r.URL()+wire.PathBlobs+sha.String(), nil)
			req.Header.Set("Authorization", "Bearer "+r.Secret)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(b), "legacy MAAS database") {
					saw503.Store(true)
				}
			}
			var st wire.Status
			req, _ = http.NewRequest("GET", r.URL()+wire.PathStatus, nil)
			req.Header.Set("Authorization", "Bearer "+r.Secret)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				if decode(resp, &st) == nil && strings.HasPrefix(st.Migrating, "migrating: ") {
					sawProgress.Store(true)
				}
				resp.Body.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	regiontest.Eventually(t, 2*time.Minute, "the migration to finish", func() bool {
		var st wire.Status
		if err := decode(r.Get(t, wire.PathStatus, nil), &st); err != nil {
			t.Fatal(err)
		}
		return st.Migrating == "" && byPath(r.Tree(t))["ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"].SHA256 == sha
	})
	close(stop)
	if !saw503.Load() {
		t.Error("boot files were not refused with 503 during the migration")
	}
	if !sawProgress.Load() {
		t.Error("status never showed migration progress")
	}
	resp := r.Get(t, wire.PathBlobs+sha.String(), nil)
	if got := body(t, resp); resp.StatusCode != 200 || digest.Of(got) != sha {
		t.Fatalf("migrated kernel served as %s, sha %s", resp.Status, digest.Of(got))
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, legacy)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var largefiles, objects int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM maasserver_largefile), (SELECT count(*) FROM pg_largeobject_metadata)`).Scan(&largefiles, &objects); err != nil {
		t.Fatal(err)
	}
	if want := map[bool]int{true: 0, false: 1}[yes]; largefiles != want || objects != want {
		t.Errorf("legacy database holds %d largefiles, %d large objects; want %d", largefiles, objects, want)
	}
}
