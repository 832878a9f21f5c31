package migrate

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// fixture is a legacy database holding what the issue lists: resources
// sharing one largefile, an incomplete largefile, a corrupt one, two
// bootloader archives, an orphan largefile, and optionally one big object.
type fixture struct {
	*legacy
	good       map[string]int64 // sha256 -> size of every valid content
	corrupt    string           // sha256 claimed by the corrupt largefile
	incomplete string           // sha256 of the incomplete one
	sets       int
	files      int
	largefiles int64
	// bootloaders maps store paths under bootloaders/ to their bytes.
	bootloaders map[string][]byte
	big         string // sha256 of the big object ("" if none)
	// unbacked counts resource files the test added without a largefile.
	unbacked int
	// kept lists the sha256 of the largefiles a migration keeps (their
	// content is not verified on disk), keptObjects how many of them have
	// a large object, keptAttached the resource files still using them.
	kept                      []string
	keptObjects, keptAttached int64
}

// newFixture fills a legacy database. bigSize > 0 makes the squashfs an
// object of that many bytes, written in chunks.
func newFixture(t testing.TB, v35 bool, bigSize int64) *fixture {
	t.Helper()
	f := &fixture{legacy: newLegacy(t, v35), good: map[string]int64{}, bootloaders: map[string][]byte{}}
	add := func(data []byte) int64 {
		f.good[hexSHA(data)] = int64(len(data))
		return f.content(data)
	}
	kernel := add(randomBytes(1, 300_000))
	initrd := add(randomBytes(2, 2<<20+123))
	var squash int64
	if bigSize > 0 {
		squash, f.big = f.bigContent(3, bigSize)
		f.good[f.big] = bigSize
	} else {
		squash = add(randomBytes(3, 1<<20))
	}
	hwe := add(randomBytes(4, 500_000))

	// An interrupted MAAS download: 100,000 of 400,000 bytes.
	full := randomBytes(5, 400_000)
	f.incomplete = hexSHA(full)
	incomplete := f.largefile(f.incomplete, int64(len(full)), 100_000, full[:100_000])
	// Bytes that do not match their sha256 (same length).
	f.corrupt = hexSHA(randomBytes(6, 200_000))
	corrupt := f.largefile(f.corrupt, 200_000, 200_000, randomBytes(7, 200_000))

	uefi := map[string][]byte{"bootx64.efi": randomBytes(8, 40_000), "grubx64.efi": randomBytes(9, 60_000)}
	pxe := map[string][]byte{"lpxelinux.0": randomBytes(10, 30_000), "ldlinux.c32": randomBytes(11, 20_000)}
	uefiArchive := add(tarXZ(t, uefi, "bootx64.efi", "grubx64.efi"))
	pxeArchive := add(tarXZ(t, pxe, "lpxelinux.0", "ldlinux.c32"))
	for name, b := range uefi {
		f.bootloaders["uefi/amd64/"+name] = b
	}
	for name, b := range pxe {
		f.bootloaders["pxe/i386/"+name] = b
	}
	orphan := randomBytes(12, 10_000)
	f.content(orphan) // an orphan: no resource file uses it
	f.kept = []string{f.corrupt, f.incomplete, hexSHA(orphan)}
	f.keptObjects, f.keptAttached = 3, 2

	ga := f.resource("ubuntu/jammy", "amd64/ga-22.04", "generic", "")
	s := f.set(ga, "20250718")
	f.file(s, kernel, "boot-kernel", "boot-kernel")
	f.file(s, initrd, "boot-initrd", "boot-initrd")
	f.file(s, squash, "squashfs", "squashfs")
	old := f.set(ga, "20250101")
	f.file(old, kernel, "boot-kernel", "boot-kernel") // same content as the newer set
	hweSet := f.set(f.resource("ubuntu/jammy", "amd64/hwe-22.04", "generic", ""), "20250718")
	f.file(hweSet, kernel, "boot-kernel", "boot-kernel") // and as another resource
	f.file(hweSet, hwe, "boot-initrd", "boot-initrd")
	noble := f.set(f.resource("ubuntu/noble", "amd64/ga-24.04", "generic", ""), "20250801")
	f.file(noble, incomplete, "boot-kernel", "boot-kernel")
	f.file(noble, corrupt, "boot-initrd", "boot-initrd")
	grub := f.set(f.resource("grub-efi-signed/uefi", "amd64/generic", "", "uefi"), "20250601")
	f.file(grub, uefiArchive, "grub2-signed.tar.xz", "archive.tar.xz")
	syslinux := f.set(f.resource("pxelinux/pxe", "i386/generic", "", "pxe"), "20250601")
	f.file(syslinux, pxeArchive, "syslinux.tar.xz", "archive.tar.xz")
	f.sets, f.files = 6, 10
	f.largefiles = 9
	return f
}

// region is a region database and store for a migration.
type region struct {
	db    *db.DB
	store *store.Disk
	id    int64
	name  string
	url   string
}

// newRegion opens a fresh (or the given) region database and a store in dir
// (a temp dir if "").
func newRegion(t testing.TB, url, name, dir string) *region {
	t.Helper()
	ctx := context.Background()
	if url == "" {
		url = pgtest.NewDatabase(t)
	}
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "store")
	}
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := d.RegisterRegion(ctx, name, "http://"+name)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return &region{db: d, store: st, id: id, name: name, url: url}
}

// options are Run's options for a migration from the legacy database at
// from into r, saying yes to the irreversible step (as --yes does).
func (r *region) options(from string) Options {
	return Options{From: from, DB: r.db, Store: r.store, RegionID: r.id, RegionName: r.name, Confirm: yes}
}

func yes(context.Context, Removal) (bool, error) { return true, nil }

func (r *region) int(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := r.db.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// fileSHA hashes a file.
func fileSHA(t testing.TB, path string) (string, int64) {
	t.Helper()
	d, n, err := digest.OfFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return d.String(), n
}

// exists reports whether path exists.
func exists(t testing.TB, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// blobNames lists the final blob names and the partial files in a store.
func blobNames(t testing.TB, dir string) (final, partial []string) {
	t.Helper()
	for _, sub := range []string{"", ".partial"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if len(e.Name()) == 64 && e.Type().IsRegular() {
				if sub == "" {
					final = append(final, e.Name())
				} else {
					partial = append(partial, e.Name())
				}
			}
		}
	}
	return final, partial
}

// verifyMigrated checks the end state of a complete migration of f into r.
func verifyMigrated(t testing.TB, f *fixture, r *region) {
	t.Helper()
	dir := r.store.Dir()
	final, partial := blobNames(t, dir)
	if len(final) != len(f.good) || len(partial) != 0 {
		t.Errorf("store holds %d blobs and %d partial files, want %d and 0", len(final), len(partial), len(f.good))
	}
	for sha, size := range f.good {
		got, n := fileSHA(t, filepath.Join(dir, sha))
		if got != sha || n != size {
			t.Errorf("stored %s hashes to %s (%d bytes), want %d bytes", sha, got, n, size)
		}
	}
	for _, bad := range []string{f.corrupt, f.incomplete} {
		if exists(t, filepath.Join(dir, bad)) || exists(t, filepath.Join(dir, ".partial", bad)) {
			t.Errorf("%s (corrupt or incomplete) is in the store", bad)
		}
	}
	// Region database: every set and file recorded; the valid contents
	// held by this region with their block digests; the others not held.
	if n := r.int(t, `SELECT count(*) FROM boot_resource_set`); n != int64(f.sets) {
		t.Errorf("region has %d sets, want %d", n, f.sets)
	}
	if n := r.int(t, `SELECT count(*) FROM boot_resource_file`); n != int64(f.files) {
		t.Errorf("region has %d files, want %d", n, f.files)
	}
	held, err := r.db.Held(context.Background(), r.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != len(f.good) {
		t.Errorf("region holds %d blobs, want %d", len(held), len(f.good))
	}
	for dg, size := range held {
		if f.good[dg.String()] != size {
			t.Errorf("region holds %s (%d bytes), not a valid content", dg, size)
		}
		if _, _, blocks, err := r.db.BlockDigests(context.Background(), dg); err != nil || len(blocks) == 0 {
			t.Errorf("no block digests for %s: %v", dg, err)
		}
	}
	// Legacy database: the verified contents gone, the others kept with
	// their objects; metadata kept.
	lfs, objs, attached := f.counts()
	if lfs != int64(len(f.kept)) || objs != f.keptObjects || attached != f.keptAttached {
		t.Errorf("legacy database holds %d largefiles, %d large objects, %d attached files; want %d, %d, %d",
			lfs, objs, attached, len(f.kept), f.keptObjects, f.keptAttached)
	}
	if got, want := f.strings(`SELECT sha256 FROM maasserver_largefile ORDER BY sha256`), slices.Sorted(slices.Values(f.kept)); !slices.Equal(got, want) {
		t.Errorf("legacy database keeps largefiles %v, want %v", got, want)
	}
	if n := f.int(`SELECT count(*) FROM maasserver_bootresourcefile`); n != int64(f.files+f.unbacked) {
		t.Errorf("legacy database has %d resource files, want %d kept", n, f.files+f.unbacked)
	}
}
