package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// grubModules are the modules of the test's grubx64.efi: what a network
// boot from grub.cfg needs, both over TFTP and over HTTP.
var grubModules = []string{"normal", "configfile", "echo", "test", "linux", "all_video", "efinet", "net",
	"tftp", "http", "gzio", "sleep", "halt", "reboot", "ls", "cat"}

// bootloaderRoot returns a system root for the dev mirror's bootloader
// lookup (devmirror.Options.SystemRoot): the installed shim, pxelinux and
// syslinux files, and as grub-efi-amd64-signed's grubnetx64.efi a grub
// netboot image made with grub-mkimage that has the http module.
//
// Debian's signed grubnetx64.efi (grub-efi-amd64-signed 2.06) has tftp but
// no http: HTTP-booted, it sets $prefix to (http,<server>)/grub and then
// cannot read anything from it ("disk not found"), nor load http.mod from
// there. MAAS's UEFI HTTP boot needs a grub that speaks HTTP, like the one
// built here from Debian's own modules (grub-efi-amd64-bin). Secure boot is
// off in the tests, so shim loads it unsigned.
func bootloaderRoot(t *testing.T, dir string) string {
	t.Helper()
	mkimage, err := exec.LookPath("grub-mkimage")
	if err != nil {
		t.Fatalf("grub-mkimage is not installed (package grub-common): %v", err)
	}
	const modules = "/usr/lib/grub/x86_64-efi"
	if _, err := os.Stat(filepath.Join(modules, "http.mod")); err != nil {
		t.Fatalf("no grub x86_64-efi modules (package grub-efi-amd64-bin): %v", err)
	}
	root := filepath.Join(dir, "sysroot")
	for _, d := range []string{"usr/lib/shim", "usr/lib/PXELINUX", "usr/lib/syslinux"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, d)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/"+d, filepath.Join(root, d)); err != nil {
			t.Fatal(err)
		}
	}
	grub := filepath.Join(root, "usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed")
	if err := os.MkdirAll(filepath.Dir(grub), 0o755); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-O", "x86_64-efi", "-o", grub, "-p", "/grub", "-d", modules}, grubModules...)
	if out, err := exec.Command(mkimage, args...).CombinedOutput(); err != nil {
		t.Fatalf("grub-mkimage: %v\n%s", err, out)
	}
	return root
}
