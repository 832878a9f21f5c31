package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testTFTP: Debian's tftpd-hpa, chrooted to the mount, serves a kernel and
// bootloaders byte-identical to pin/tftp and to tftp-hpa's client, resolves
// MAAS 3.5 style <hash>/ubuntu/... paths through the packaging's map file,
// and answers "File not found" for what pxelinux probes and is not there.
func (g *rig) testTFTP(t *testing.T) {
	m := g.mount(t, mountSpec{})
	port := freePort(t, "udp")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startTFTPD(t, g, "", m.dir, addr)
	waitTFTP(t, addr, loaderPath)

	kernel, loader := g.want(t, kernelPath), g.want(t, loaderPath)
	hash := g.imageName(t, kernelPath)
	for _, tc := range []struct {
		file    string
		blksize int
		want    []byte
	}{
		{loaderPath, 0, loader},
		{"ldlinux.c32", 0, g.want(t, "ldlinux.c32")},
		{"bootloaders/pxe/i386/lpxelinux.0", 1468, loader},
		{kernelPath, 1468, kernel},
		{"images/" + hash, 8192, kernel},
		{hash + "/ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel", 1468, kernel},
		{"/" + hash + "/ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel", 1468, kernel},
	} {
		got, err := tftpGet(addr, tc.file, tc.blksize)
		if err != nil {
			t.Errorf("pin/tftp %s: %v", tc.file, err)
			continue
		}
		sameBytes(t, "pin/tftp "+tc.file, got, tc.want)
	}

	// What pxelinux asks for before its configuration, and a MAAS path
	// whose hash is unknown.
	for _, missing := range []string{"pxelinux.cfg/01-52-54-00-12-34-56", "pxelinux.cfg/C0A84D32",
		"pxelinux.cfg/C0A8", "pxelinux.cfg/default", "0000000/ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"} {
		_, err := tftpGet(addr, missing, 0)
		if err == nil || !strings.Contains(err.Error(), "File not found") {
			t.Errorf("pin/tftp %s: %v, want a File not found error", missing, err)
		}
	}

	// tftp-hpa's client (512-byte blocks: it cannot negotiate blksize).
	dir := t.TempDir()
	for _, tc := range []struct {
		file string
		want []byte
	}{
		{loaderPath, loader},
		{kernelPath, kernel},
		{hash + "/ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel", kernel},
	} {
		local := filepath.Join(dir, strings.ReplaceAll(tc.file, "/", "_"))
		out, err := exec.Command("tftp", "-m", "binary", "127.0.0.1", fmt.Sprint(port), "-c", "get", tc.file, local).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("tftp-hpa get %s: %v %s", tc.file, err, out)
			continue
		}
		got, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		sameBytes(t, "tftp-hpa "+tc.file, got, tc.want)
	}
	out, _ := exec.Command("tftp", "-m", "binary", "127.0.0.1", fmt.Sprint(port), "-c", "get",
		"pxelinux.cfg/default", filepath.Join(dir, "default")).CombinedOutput()
	if !strings.Contains(string(out), "File not found") {
		t.Errorf("tftp-hpa get of a missing file said %q, want File not found", out)
	}

	if st := m.status(t); st.Reads.NegativeLookups == 0 || st.Reads.ReadErrors != 0 {
		t.Errorf("after TFTP: %d negative lookups, %d read errors", st.Reads.NegativeLookups, st.Reads.ReadErrors)
	}
}
