package region_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/tmpfs"

	"github.com/jackc/pgx/v5"

	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/importer"
)

func TestStartupReconcile(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	ctx := context.Background()
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	kernel := byPath(r.Tree(t))["ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"]
	r.Stop()
	dir := r.Storage
	unknown := filepath.Join(dir, strings.Repeat("ab", 32))
	mustWrite(t, unknown, "not ours any more")
	if err := os.Mkdir(filepath.Join(dir, "lost+found"), 0o700); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "lost+found", "x"), "fsck found this")
	mustWrite(t, filepath.Join(dir, "README"), "an admin's note")
	// A held file vanishes while the region is down.
	if err := os.Remove(filepath.Join(dir, kernel.SHA256.String())); err != nil {
		t.Fatal(err)
	}

	r2 := regiontest.StartRegion(t, regiontest.Options{DatabaseURL: r.DBURL, Storage: dir, SecretFile: r.SecretFile})
	if _, err := os.Stat(unknown); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unknown blob-named file kept: %v", err)
	}
	for _, keep := range []string{"lost+found/x", "README"} {
		if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
			t.Errorf("%s removed: %v", keep, err)
		}
	}
	held, err := r2.DB().Held(ctx, r2.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := held[kernel.SHA256]; ok {
		t.Error("missing file still counted as held")
	}
	// The set stays published (racks read each file from the regions
	// holding it), but no region is listed for the missing file.
	if e, ok := byPath(r2.Tree(t))[kernel.Path]; !ok || len(e.Regions) != 0 {
		t.Errorf("missing kernel in tree: %v, holders %v; want listed with no holder", ok, e.Regions)
	}
	if err := r2.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, filepath.Join(dir, kernel.SHA256.String())) != kernel.SHA256.String() {
		t.Error("kernel not fetched again")
	}
	regiontest.Eventually(t, 10*time.Second, "region1 listed as holding the kernel again", func() bool {
		e := byPath(r2.Tree(t))[kernel.Path]
		return len(e.Regions) == 1 && e.Regions[0] == "region1"
	})
}

func mustWrite(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTooLittleDisk(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.01}) // ~20 MB
	dir := tmpfs.Mount(t, "8m")
	r := regiontest.StartRegion(t, regiontest.Options{Storage: filepath.Join(dir, "store"),
		Config: func(c *region.Config) {}})
	r.AddSource(t, m)
	ctx := context.Background()
	err := r.ImportNow(ctx)
	if !errors.Is(err, importer.ErrNoSpace) {
		t.Fatalf("import into a small disk: %v, want ErrNoSpace", err)
	}
	banners, err := r.DB().Banners(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(banners) != 1 || banners[0].Kind != importer.BannerDiskSpace ||
		!strings.Contains(banners[0].Message, "region1 needs") || !strings.Contains(banners[0].Message, dir) {
		t.Fatalf("banners = %+v", banners)
	}
	if blobs := storeBlobs(t, r.Storage); len(blobs) != 0 {
		t.Errorf("%d files stored despite the space check", len(blobs))
	}
	if ents, _ := os.ReadDir(filepath.Join(r.Storage, ".partial")); len(ents) != 0 {
		t.Errorf("%d partial files left", len(ents))
	}
	var st wire.Status
	resp := r.Get(t, wire.PathStatus, nil)
	if err := decode(resp, &st); err != nil || len(st.Banners) != 1 {
		t.Fatalf("status banners = %+v (%v)", st.Banners, err)
	}
	// Grow the disk: the next import succeeds and clears the banner.
	tmpfs.Resize(t, dir, "256m")
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	if banners, _ := r.DB().Banners(ctx); len(banners) != 0 {
		t.Fatalf("banner not cleared: %+v", banners)
	}
	assertStoreVerified(t, r.Storage)
}

func TestVerifierQuarantinesAndRefetches(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	r := regiontest.StartRegion(t, regiontest.Options{Config: func(c *region.Config) {
		c.VerifyRate = 1 << 30
		c.VerifyInterval = 100 * time.Millisecond
	}})
	r.AddSource(t, m)
	ctx := context.Background()
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	k := byPath(r.Tree(t))["ubuntu/amd64/ga-24.04/noble/stable/boot-kernel"]
	path := filepath.Join(r.Storage, k.SHA256.String())
	damage.FlipByte(t, path, k.Size/2)
	regiontest.Eventually(t, 30*time.Second, "quarantine of the flipped file", func() bool {
		ents, _ := os.ReadDir(filepath.Join(r.Storage, ".quarantine"))
		return len(ents) > 0
	})
	// OnCorrupt forgets it and asks for an import, which fetches it again.
	regiontest.Eventually(t, 30*time.Second, "re-fetch of the quarantined file", func() bool {
		b, err := os.ReadFile(path)
		return err == nil && int64(len(b)) == k.Size && fileSHA(t, path) == k.SHA256.String()
	})
}

func TestSchemaTooNewRefused(t *testing.T) {
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.Stop()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, r.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE bootfs_schema SET version = 99`); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(ctx, r.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, _, err = d.Migrate(ctx)
	if !errors.Is(err, db.ErrSchemaTooNew) || !strings.Contains(err.Error(), "upgrade bootfs-region") {
		t.Fatalf("migrate a newer schema: %v", err)
	}
	var v int
	if err := conn.QueryRow(ctx, `SELECT version FROM bootfs_schema`).Scan(&v); err != nil || v != 99 {
		t.Fatalf("schema version changed to %d (%v)", v, err)
	}
	_, err = region.Open(ctx, region.Config{DatabaseURL: r.DBURL, Listen: "127.0.0.1:0", Storage: t.TempDir(), SecretFile: r.SecretFile})
	if !errors.Is(err, db.ErrSchemaTooNew) {
		t.Fatalf("region.Open on a newer schema: %v", err)
	}
}

// TestSecretMismatchRefused: a second region started on the same database
// with another secret (a fresh file, created because it was missing) is
// refused with a clear error naming the region whose secret is on record,
// and starts with --new-secret, after which the first region is refused.
func TestSecretMismatchRefused(t *testing.T) {
	r1 := regiontest.StartRegion(t, regiontest.Options{Name: "r1"})
	ctx := context.Background()
	fresh := filepath.Join(t.TempDir(), "secret") // missing: Open creates a new secret
	cfg := region.Config{Name: "r2", DatabaseURL: r1.DBURL, Listen: "127.0.0.1:0", Storage: t.TempDir(),
		SecretFile: fresh, ImportInterval: -1, VerifyRate: -1}
	_, err := region.Open(ctx, cfg)
	if !errors.Is(err, region.ErrSecretMismatch) || !strings.Contains(err.Error(), `"r1"`) || !strings.Contains(err.Error(), fresh) {
		t.Fatalf("a region with another secret: %v", err)
	}
	if regions, err := r1.DB().Regions(ctx); err != nil || len(regions) != 1 {
		t.Fatalf("the refused region registered: %v %v", regions, err)
	}

	cfg.NewSecret = true
	r2, err := region.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("--new-secret: %v", err)
	}
	r2.Close()
	r1.Stop()
	_, err = region.Open(ctx, region.Config{Name: "r1", DatabaseURL: r1.DBURL, Listen: "127.0.0.1:0",
		Storage: r1.Storage, SecretFile: r1.SecretFile, ImportInterval: -1, VerifyRate: -1})
	if !errors.Is(err, region.ErrSecretMismatch) || !strings.Contains(err.Error(), `"r2"`) {
		t.Fatalf("the old secret after --new-secret elsewhere: %v", err)
	}
}
