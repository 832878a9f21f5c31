package migrate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/region/importer"
	"github.com/bootfs/bootfs/region/tree"
)

func TestRunMigratesEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, false, 0)
	// A largefile whose large object is gone (damaged data): corrupt too.
	missing := hexSHA([]byte("missing"))
	lost := f.int(`INSERT INTO maasserver_largefile (sha256, total_size, size, content)
		VALUES ($1, 7, 7, 4000000000) RETURNING id`, missing)
	f.file(f.set(f.resource("centos/8", "amd64/generic", "", ""), "20200101"), lost, "root-tgz", "root-tgz")
	f.sets, f.files, f.largefiles = f.sets+1, f.files+1, f.largefiles+1
	f.kept = append(f.kept, missing)
	f.keptAttached++
	r := newRegion(t, "", "region1", "")
	if p, err := Pending(ctx, f.url); err != nil || !p {
		t.Fatalf("Pending before = %v, %v; want true", p, err)
	}
	var last Progress
	calls := 0
	o := r.options(f.url)
	o.Progress = func(p Progress) { last = p; calls++ }
	o.ChunkSize = 64 << 10 // several chunks per file
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Migrated != len(f.good) || rep.Skipped != 0 || rep.Corrupt != 2 || rep.Incomplete != 1 ||
		rep.Sets != f.sets || rep.Files != f.files || rep.Removed != int(f.largefiles)-len(f.kept) ||
		rep.Unlinked != rep.Removed || rep.Kept != len(f.kept) || rep.Declined {
		t.Errorf("report %+v", rep)
	}
	var want int64
	for _, size := range f.good {
		want += size
	}
	if rep.Bytes != want+200_000 { // the corrupt one is read, then refused
		t.Errorf("report says %d bytes written, want %d", rep.Bytes, want+200_000)
	}
	kinds := map[string]string{}
	for _, p := range rep.Problems {
		kinds[p.File.SHA256.String()] = p.Kind
	}
	if kinds[f.corrupt] != "corrupt" || kinds[f.incomplete] != "incomplete" || kinds[missing] != "corrupt" {
		t.Errorf("problems %+v", rep.Problems)
	}
	if last.FilesDone != last.FilesTotal || last.FilesTotal != len(f.good)+2 || last.BytesDone != last.BytesTotal || calls < 3 {
		t.Errorf("last progress %+v after %d calls", last, calls)
	}
	if rep.Plan.Orphans != 1 {
		t.Errorf("plan counts %d orphans, want 1", rep.Plan.Orphans)
	}
	verifyMigrated(t, f, r)

	// The unverified largefiles are still there: Pending stays true, and a
	// second run copies nothing, deletes nothing and reports them again.
	if p, err := Pending(ctx, f.url); err != nil || !p {
		t.Fatalf("Pending after = %v, %v; want true (unverified largefiles kept)", p, err)
	}
	again, err := Run(ctx, r.options(f.url))
	if err != nil || again.Migrated+again.Skipped+again.Removed != 0 || again.Kept != len(f.kept) || len(again.Problems) != 3 {
		t.Fatalf("second Run = %+v, %v; want nothing done, %d kept", again, err, len(f.kept))
	}
	verifyMigrated(t, f, r)

	// The region's next import extracts the migrated bootloader archives,
	// though no upstream source is configured.
	storeDir := r.store.Dir()
	im := importer.New(importer.Config{DB: r.db, Store: r.store, RegionID: r.id, RegionName: r.name})
	if err := im.Run(ctx); err != nil {
		t.Fatalf("import after migration: %v", err)
	}
	for rel, data := range f.bootloaders {
		got, err := os.ReadFile(filepath.Join(storeDir, "bootloaders", rel))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("bootloaders/%s after import: %d bytes, %v; want the archive member", rel, len(got), err)
		}
	}
	if n := r.int(t, `SELECT count(*) FROM boot_resource_file WHERE filetype = $1`, tree.FiletypeBootloader); n != int64(len(f.bootloaders)) {
		t.Errorf("%d bootloader files recorded, want %d", n, len(f.bootloaders))
	}
}

func TestRunMAAS35Shape(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, true, 0)
	// A 3.5 file whose content MAAS already exported: no largefile.
	set := f.set(f.resource("ubuntu/focal", "amd64/ga-20.04", "generic", ""), "20240101")
	f.exec(`INSERT INTO maasserver_bootresourcefile (resource_set_id, filename, filetype, sha256, size)
		VALUES ($1, 'boot-kernel', 'boot-kernel', $2, 1234)`, set, strings.Repeat("ab", 32))
	f.unbacked = 1
	r := newRegion(t, "", "region1", "")
	rep, err := Run(ctx, r.options(f.url))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Migrated != len(f.good) || rep.Corrupt != 1 || rep.Incomplete != 1 || rep.Plan.WithoutContent != 1 {
		t.Errorf("report %+v, plan %+v", rep, rep.Plan)
	}
	verifyMigrated(t, f, r)
	if n := f.int(`SELECT count(*) FROM maasserver_bootresourcefile WHERE sha256 IS NOT NULL`); n != int64(f.files+f.unbacked) {
		t.Errorf("3.5 file rows lost their sha256: %d left", n)
	}
}

func TestDryRunTouchesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, false, 0)
	dir := filepath.Join(t.TempDir(), "store")
	r := newRegion(t, "", "region1", dir)
	// One content is already on disk: it needs no space.
	kernel := randomBytes(1, 300_000)
	if _, err := r.store.Put(ctx, digest.Of(kernel), int64(len(kernel)), bytes.NewReader(kernel)); err != nil {
		t.Fatal(err)
	}
	before := snapshotLegacy(t, f)
	rep, err := Run(ctx, Options{From: f.url, Store: r.store, DryRun: true}) // no region database at all
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	p := rep.Plan
	var need int64
	onDisk := 0
	for _, pf := range p.Files {
		if pf.OnDisk {
			onDisk++
		} else {
			need += pf.Size
		}
	}
	var all int64
	for _, size := range f.good {
		all += size
	}
	if len(p.Files) != len(f.good)+1 || onDisk != 1 || len(p.Incomplete) != 1 || p.Orphans != 1 ||
		p.BytesNeeded != need || need != all+200_000-300_000 || !p.Fits() {
		t.Errorf("plan %+v", p)
	}
	var out bytes.Buffer
	if _, err := p.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"fits", "ubuntu/jammy amd64/hwe-22.04 20250718 boot-kernel", "on disk",
		"has 100000 of 400000 bytes", dir} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("dry-run output lacks %q:\n%s", s, out.String())
		}
	}
	if after := snapshotLegacy(t, f); after != before {
		t.Errorf("legacy database changed by a dry run:\n%s\n%s", before, after)
	}
	if n := r.int(t, `SELECT count(*) FROM boot_resource`); n != 0 {
		t.Errorf("dry run recorded %d resources", n)
	}
	if final, partial := blobNames(t, dir); len(final) != 1 || len(partial) != 0 {
		t.Errorf("dry run wrote to the store: %v %v", final, partial)
	}
}

func TestNothingToDo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	empty := pgtest.NewDatabase(t) // no MAAS tables at all
	if p, err := Pending(ctx, empty); err != nil || p {
		t.Fatalf("Pending = %v, %v; want false", p, err)
	}
	r := newRegion(t, "", "region1", "")
	rep, err := Run(ctx, r.options(empty))
	if err != nil || rep.Plan != nil {
		t.Fatalf("Run = %+v, %v; want nothing done", rep, err)
	}
	// MAAS tables without content: nothing either, and a stale banner goes.
	l := newLegacy(t, false)
	if err := r.db.SetBanner(ctx, r.id, BannerKind, "stale"); err != nil {
		t.Fatal(err)
	}
	rep, err = Run(ctx, r.options(l.url))
	if err != nil || rep.Plan != nil {
		t.Fatalf("Run = %+v, %v; want nothing done", rep, err)
	}
	if n := r.int(t, `SELECT count(*) FROM banner`); n != 0 {
		t.Errorf("banner not cleared")
	}
}

func TestProgressString(t *testing.T) {
	t.Parallel()
	got := Progress{FilesDone: 3, FilesTotal: 10, BytesDone: 1288490189, BytesTotal: 4 << 30}.String()
	if want := "migrating: 3 of 10 files, 1.2 GiB of 4.0 GiB"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// snapshotLegacy summarises the legacy content: rows, objects and a hash
// of every object's bytes.
func snapshotLegacy(t testing.TB, f *fixture) string {
	t.Helper()
	var s string
	err := f.pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM maasserver_largefile) || ' ' ||
		       (SELECT count(*) FROM maasserver_bootresourcefile WHERE largefile_id IS NOT NULL) || ' ' ||
		       (SELECT count(*) FROM maasserver_bootresource) || ' ' ||
		       coalesce((SELECT string_agg(m.oid || ':' || md5(lo_get(m.oid)), ',' ORDER BY m.oid) FROM pg_largeobject_metadata m), '')`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A file with a final name whose bytes are wrong (rot, or a tampered
// store) and whose block digests nobody recorded is hashed before it is
// claimed: it is quarantined and exported again.
func TestRottenFileOnDiskIsReplaced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, false, 0)
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	kernel := randomBytes(1, 300_000)
	garbage := randomBytes(99, len(kernel))
	if err := os.WriteFile(filepath.Join(dir, hexSHA(kernel)), garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRegion(t, "", "region1", dir)
	rep, err := Run(ctx, r.options(f.url))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Migrated != len(f.good) || rep.Skipped != 0 {
		t.Errorf("migrated %d, skipped %d; want %d, 0", rep.Migrated, rep.Skipped, len(f.good))
	}
	verifyMigrated(t, f, r)
	if q, err := os.ReadDir(filepath.Join(dir, ".quarantine")); err != nil || len(q) != 1 {
		t.Errorf("quarantine holds %d files (%v), want the rotten one", len(q), err)
	}
}
