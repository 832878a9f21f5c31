package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

func TestLinkBootloader(t *testing.T) {
	d, _ := newDisk(t)
	data, dg := put(t, d, 30, 3000)
	data2, dg2 := put(t, d, 31, 4000)
	const rel = "uefi/amd64/bootx64.efi"
	target := filepath.Join(d.Dir(), bootloaderDir, "uefi", "amd64", "bootx64.efi")

	if err := d.LinkBootloader("uefi/./amd64//bootx64.efi", dg); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(target)
	if err != nil || string(got) != string(data) {
		t.Fatalf("bootloader content wrong: %v", err)
	}
	fb, _ := os.Stat(d.Path(dg))
	fl, _ := os.Stat(target)
	if !os.SameFile(fb, fl) {
		t.Error("bootloader is not a hard link to its blob")
	}
	// Replacing it points the name at the other blob.
	if err := d.LinkBootloader(rel, dg2); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(target); string(got) != string(data2) {
		t.Fatal("bootloader not replaced")
	}
	if d.links[rel] != dg2 {
		t.Fatalf("manifest says %s", d.links[rel].Short(8))
	}
	if names := dirNames(t, filepath.Join(d.Dir(), tmpDir)); len(names) != 0 {
		t.Fatalf("temporary files left: %v", names)
	}
	// The manifest survives a reopen.
	d2, err := Open(Options{Dir: d.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	if d2.links[rel] != dg2 {
		t.Fatal("manifest not persisted")
	}
}

func TestLinkBootloaderRejects(t *testing.T) {
	d, _ := newDisk(t)
	_, dg := put(t, d, 32, 100)
	for _, rel := range []string{"../x", "a/../../x", "/etc/passwd", "", ".", "..", "a\x00b", "uefi/amd64/boot\nx64.efi", `uefi\amd64`} {
		if err := d.LinkBootloader(rel, dg); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("LinkBootloader(%q) = %v, want ErrInvalidPath", rel, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(d.Dir(), "x")); !os.IsNotExist(err) {
		t.Error("../x was created")
	}
	// A symlink planted inside bootloaders/ must not lead outside.
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(d.Dir(), bootloaderDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(d.Dir(), bootloaderDir, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := d.LinkBootloader("evil/x", dg); !errors.Is(err, ErrInvalidPath) {
		t.Errorf("LinkBootloader through a symlink = %v, want ErrInvalidPath", err)
	}
	if names := dirNames(t, outside); len(names) != 0 {
		t.Errorf("wrote outside the store: %v", names)
	}
	_, missing := blob(33, 10)
	if err := d.LinkBootloader("pxe/lpxelinux.0", missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("LinkBootloader of a missing blob = %v, want ErrNotFound", err)
	}
}

func TestLinkBootloaderCopyFallback(t *testing.T) {
	d, _ := newDisk(t)
	data, dg := put(t, d, 34, digest.BlockSize+1)
	hardLink = func(string, string) error { return errors.New("cross-device link") }
	t.Cleanup(func() { hardLink = os.Link })
	if err := d.LinkBootloader("pxe/lpxelinux.0", dg); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(d.Dir(), bootloaderDir, "pxe", "lpxelinux.0")
	got, err := os.ReadFile(target)
	if err != nil || string(got) != string(data) {
		t.Fatalf("copied bootloader differs: %v", err)
	}
	fb, _ := os.Stat(d.Path(dg))
	fc, _ := os.Stat(target)
	if os.SameFile(fb, fc) {
		t.Fatal("the copy is the blob itself")
	}
}
