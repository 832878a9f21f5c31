// Package tmpfs mounts small tmpfs file systems for tests that need a disk
// that fills up (ENOSPC, free-space checks). Mounting needs root; CI runs
// as root, elsewhere such tests skip and say why.
package tmpfs

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/testskip"
)

// Mount mounts a tmpfs of size (e.g. "2m") on a fresh directory and
// unmounts it (lazily, so a leftover open file cannot fail the test) when
// the test ends. It skips the test when not root.
func Mount(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testskip.Skip(t, "mounting a small tmpfs needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// Resize changes the size of a tmpfs mounted by Mount.
func Resize(t testing.TB, dir, size string) {
	t.Helper()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_REMOUNT, "size="+size); err != nil {
		t.Fatalf("resize tmpfs %s to %s: %v", dir, size, err)
	}
}
