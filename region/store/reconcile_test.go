package store

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
)

func TestReconcile(t *testing.T) {
	d, _ := newDisk(t)
	dir := d.Dir()
	_, keep := put(t, d, 50, 3000)
	_, unknown := put(t, d, 51, 2000)
	_, wrongSize := put(t, d, 52, 1000)
	_, missing := blob(53, 10)
	// Right size, wrong bytes: kept, which shows Reconcile does not hash.
	rotten := digest.Of([]byte("rotten"))
	writeFile(t, filepath.Join(dir, rotten.String()), []byte("not the bytes"))
	// A blob written by an earlier process that the database never heard of.
	_, stray := blob(54, 10)
	writeFile(t, filepath.Join(dir, stray.String()), []byte("stray"))

	if err := d.LinkBootloader("uefi/amd64/bootx64.efi", keep); err != nil {
		t.Fatal(err)
	}
	if err := d.LinkBootloader("pxe/lpxelinux.0", unknown); err != nil {
		t.Fatal(err)
	}
	// Foreign things.
	if err := os.Mkdir(filepath.Join(dir, "lost+found"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "lost+found", "#1234"), []byte("x"))
	writeFile(t, filepath.Join(dir, "README"), []byte("hands off"))
	writeFile(t, filepath.Join(dir, strings.ToUpper(stray.String())), []byte("upper case is not ours"))
	writeFile(t, filepath.Join(dir, bootloaderDir, "pxe", "pxelinux.cfg", "default"), []byte("admin's"))
	writeFile(t, filepath.Join(dir, tmpDir, "notes.txt"), []byte("not ours"))
	writeFile(t, filepath.Join(dir, partialDir, "something"), []byte("not ours"))
	// Leftovers of interrupted writes.
	_, oldP := blob(55, 10)
	_, youngP := blob(56, 10)
	writeFile(t, d.partialPath(oldP), []byte("old"))
	writeFile(t, d.partialPath(youngP), []byte("young"))
	old := time.Now().Add(-PartialMaxAge - time.Hour)
	if err := os.Chtimes(d.partialPath(oldP), old, old); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, tmpDir, tmpLinkPrefix+"abc"), []byte("tmp"))

	// A fresh Disk, as at start-up (nothing committed since Open).
	d, err := Open(Options{Dir: dir, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	known := map[digest.Digest]int64{keep: 3000, wrongSize: 999, missing: 10, rotten: int64(len("not the bytes"))}
	rep, err := d.Reconcile(known)
	if err != nil {
		t.Fatal(err)
	}
	p := func(parts ...string) string { return filepath.Join(append([]string{dir}, parts...)...) }
	wantRemoved := []string{
		p(unknown.String()), p(stray.String()), d.partialPath(oldP),
		p(tmpDir, tmpLinkPrefix+"abc"), p(bootloaderDir, "pxe", "lpxelinux.0"),
	}
	slices.Sort(wantRemoved)
	if !slices.Equal(rep.Removed, wantRemoved) {
		t.Errorf("Removed = %q\nwant %q", rep.Removed, wantRemoved)
	}
	wantForeign := []string{
		p("README"), p("lost+found"), p(strings.ToUpper(stray.String())),
		p(bootloaderDir, "pxe", "pxelinux.cfg", "default"), p(tmpDir, "notes.txt"), p(partialDir, "something"),
	}
	slices.Sort(wantForeign)
	if !slices.Equal(rep.Foreign, wantForeign) {
		t.Errorf("Foreign = %q\nwant %q", rep.Foreign, wantForeign)
	}
	if !slices.Equal(rep.Missing, []digest.Digest{missing}) {
		t.Errorf("Missing = %v", rep.Missing)
	}
	if !slices.Equal(rep.WrongSize, []digest.Digest{wrongSize}) {
		t.Errorf("WrongSize = %v", rep.WrongSize)
	}
	if rep.Kept != 2 || rep.Partials != 1 {
		t.Errorf("Kept = %d, Partials = %d, want 2, 1", rep.Kept, rep.Partials)
	}
	// What was reported removed is gone; everything else is still there.
	for _, r := range rep.Removed {
		if _, err := os.Lstat(r); !os.IsNotExist(err) {
			t.Errorf("%s still exists", r)
		}
	}
	for _, f := range append(wantForeign, p(keep.String()), d.partialPath(youngP),
		p("lost+found", "#1234"), p(bootloaderDir, "uefi", "amd64", "bootx64.efi")) {
		if _, err := os.Lstat(f); err != nil {
			t.Errorf("%s was not kept: %v", f, err)
		}
	}
	if _, err := d.Open(wrongSize); err == nil {
		t.Error("blob of the wrong size still served")
	}
	if files, bytes, q := d.Usage(); files != 2 || bytes != 3000+int64(len("not the bytes")) || q != 1 {
		t.Errorf("Usage = %d, %d, %d", files, bytes, q)
	}
	if _, ok := d.links["pxe/lpxelinux.0"]; ok {
		t.Error("stale link still in the manifest")
	}

	// A second run finds nothing more to do.
	rep, err = d.Reconcile(known)
	if err != nil || len(rep.Removed) != 0 || len(rep.WrongSize) != 0 || rep.Kept != 2 {
		t.Errorf("second Reconcile = %+v, %v", rep, err)
	}
}

// A blob committed after the caller read its known map must survive.
func TestReconcileKeepsFresh(t *testing.T) {
	d, _ := newDisk(t)
	_, dg := put(t, d, 57, 100)
	rep, err := d.Reconcile(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 0 || rep.Kept != 1 {
		t.Fatalf("Reconcile = %+v", rep)
	}
	if _, err := d.Stat(dg); err != nil {
		t.Fatal(err)
	}
}

// makeBlobs writes n small files with blob names (their content does not
// match: Reconcile never reads it) and returns the known map.
func makeBlobs(t testing.TB, dir string, n int) map[digest.Digest]int64 {
	known := make(map[digest.Digest]int64, n)
	for i := range n {
		dg := digest.Of([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
		if err := os.WriteFile(filepath.Join(dir, dg.String()), []byte("0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
		known[dg] = 10
	}
	return known
}

func BenchmarkReconcile10k(b *testing.B) {
	d, _ := newDisk(b)
	known := makeBlobs(b, d.Dir(), 10_000)
	for b.Loop() {
		rep, err := d.Reconcile(known)
		if err != nil || rep.Kept != 10_000 {
			b.Fatalf("Reconcile: kept %d, %v", rep.Kept, err)
		}
	}
}

// A directory under bootloaders/ replaced by a symlink must not make
// Reconcile remove a file outside the store.
func TestReconcileSymlinkedBootloaders(t *testing.T) {
	d, _ := newDisk(t)
	_, gone := put(t, d, 58, 100)
	if err := d.LinkBootloader("grub/x", gone); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "x"), []byte("precious"))
	grub := filepath.Join(d.Dir(), bootloaderDir, "grub")
	if err := os.RemoveAll(grub); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, grub); err != nil {
		t.Fatal(err)
	}
	d, err := Open(Options{Dir: d.Dir(), Log: testLog(t)}) // start-up
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Reconcile(nil) // gone is not known: its links are stale
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err != nil {
		t.Fatalf("file outside the store removed: %v", err)
	}
	if !slices.Contains(rep.Foreign, grub) {
		t.Errorf("symlink not reported foreign: %q", rep.Foreign)
	}
	if _, ok := d.links["grub/x"]; ok {
		t.Error("stale link kept in the manifest")
	}
}
