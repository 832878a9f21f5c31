package e2e

import (
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

// kernelCache keeps the extracted Debian kernel between runs.
const kernelCache = "/var/cache/bootfs-test"

// debianKernel returns the path of a stock Debian kernel (vmlinuz), taken
// from the linux-image package linux-image-amd64 currently depends on
// (the ABI changes with security updates: it is resolved, never
// hard-coded), downloaded with apt-get and cached under kernelCache.
func debianKernel(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("apt-cache", "depends", "linux-image-amd64").CombinedOutput()
	m := regexp.MustCompile(`Depends: (linux-image-[0-9][^\s]*)`).FindSubmatch(out)
	if err != nil || m == nil {
		// No package lists (apt-get update never ran): a kernel cached
		// by an earlier run still boots.
		if cached, _ := filepath.Glob(filepath.Join(kernelCache, "linux-image-*", "vmlinuz")); len(cached) > 0 {
			t.Logf("apt-cache cannot resolve linux-image-amd64 (%v); using %s", err, cached[len(cached)-1])
			return cached[len(cached)-1]
		}
		t.Fatalf("apt-cache depends linux-image-amd64: %v\n%s", err, out)
	}
	pkg := string(m[1])
	cached := filepath.Join(kernelCache, pkg, "vmlinuz")
	if _, err := os.Stat(cached); err == nil {
		return cached
	}

	tmp := t.TempDir()
	if err := os.Chmod(tmp, 0o755); err != nil { // apt-get downloads as _apt
		t.Fatal(err)
	}
	get := exec.Command("apt-get", "download", pkg)
	get.Dir = tmp
	if out, err := get.CombinedOutput(); err != nil {
		t.Fatalf("apt-get download %s: %v\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("apt-get download %s left %v", pkg, debs)
	}
	extract := exec.Command("sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" ./boot/`, "sh", debs[0], tmp)
	if out, err := extract.CombinedOutput(); err != nil {
		t.Fatalf("extract /boot from %s: %v\n%s", debs[0], err, out)
	}
	kernels, _ := filepath.Glob(filepath.Join(tmp, "boot", "vmlinuz-*"))
	if len(kernels) != 1 {
		t.Fatalf("%s holds kernels %v", pkg, kernels)
	}
	b, err := os.ReadFile(kernels[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached+".tmp", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(cached+".tmp", cached); err != nil {
		t.Fatal(err)
	}
	t.Logf("cached %s's kernel at %s", pkg, cached)
	return cached
}

// initScript is the test initramfs's /init: it prints the marker the PXE
// test looks for, computed in the guest from a payload baked into the
// initramfs, and powers off.
const initScript = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
set -- $(/bin/busybox sha256sum /payload)
echo "NETBOOT-OK $1"
/bin/busybox poweroff -f
`

// busyboxInitrd writes a gzipped newc initramfs (busybox-static, /init,
// a random /payload) under dir and returns its path and the payload's
// sha256, which the guest prints.
func busyboxInitrd(t *testing.T, dir string) (path, marker string) {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox-static is not installed (scripts/install-deps.sh installs it)")
	}
	root := filepath.Join(dir, "initramfs")
	for _, d := range []string{"bin", "proc", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bbBytes, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 64<<10)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]struct {
		b    []byte
		mode os.FileMode
	}{
		"bin/busybox": {bbBytes, 0o755},
		"init":        {[]byte(initScript), 0o755},
		"payload":     {payload, 0o644},
	} {
		if err := os.WriteFile(filepath.Join(root, name), f.b, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	path = filepath.Join(dir, "initrd.gz")
	pack := exec.Command("sh", "-c", `cd "$1" && find . -print0 | cpio --null --quiet -o -H newc | gzip -9 > "$2"`, "sh", root, path)
	if out, err := pack.CombinedOutput(); err != nil {
		t.Fatalf("pack the initramfs: %v\n%s", err, out)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("initramfs %s: %v", path, errors.Join(err, errors.New("empty")))
	}
	return path, digest.Of(payload).String()
}
