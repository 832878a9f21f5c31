package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// maasLoaders are the bootloader names MAAS asks a rack for by bare name
// (the dev mirror's arm64 and ppc64el ones hold synthetic bytes); the test
// fails if the tree lacks one, and fetches every other top-level name too.
var maasLoaders = []string{"bootx64.efi", "grubx64.efi", "bootaa64.efi", "grubaa64.efi", "bootppc64.bin",
	"lpxelinux.0", "pxelinux.0", "ldlinux.c32", "chain.c32", "ifcpu.c32", "ifcpu64.c32", "libcom32.c32", "libutil.c32"}

// tftpMaxSize bounds the files fetched over TFTP: bootloaders, kernels and
// initrds come over TFTP, root images (squashfs) only over HTTP.
const tftpMaxSize = 8 << 20

// dynamicUpstream is the address of MAAS rackd's HTTP service in the
// packaging's nginx site.
const dynamicUpstream = "127.0.0.1:5249"

// withDynamicUpstream points the site's dynamic upstream at addr.
func withDynamicUpstream(t *testing.T, site, addr string) string {
	t.Helper()
	line := "server " + dynamicUpstream + ";"
	if !strings.Contains(site, line) {
		t.Fatalf("the packaging nginx site has no %q in its dynamic upstream", line)
	}
	return strings.Replace(site, line, "server "+addr+";", 1)
}

// testMAASURLs: every URL shape a MAAS rack is asked for, fetched through
// the packaging's nginx site and tftpd-hpa map from the mount, byte for
// byte: /images/<bootloader name> (MAAS's DHCP hands UEFI HTTP clients
// /images/bootx64.efi; MAAS rackd's TFTP server fetches every file as
// /images/<name>), /images/<hash>, /images/<hash>/<os>/<arch>/<subarch>/
// <release>/<label>/<file>; over TFTP the bare names, <hash>/<...> and the
// images/ forms. What is not a boot file goes to the site's dynamic
// upstream (a stand-in for rackd): boot configs under its /boot/, and a
// /log report for each boot file. A rackd stand-in's TFTP server, fetching
// through the site as MAAS's does, serves the same bytes.
func (g *rig) testMAASURLs(t *testing.T) {
	m := g.mount(t, mountSpec{})

	boot := t.TempDir()
	grubCfg := []byte("# rendered by rackd\nset timeout=0\n")
	if err := os.MkdirAll(filepath.Join(boot, "grub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(boot, "grub", "grub.cfg"), grubCfg, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	rackdHTTP := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	rackdTFTP := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	requests := startRackd(t, "", rackdConfig{HTTP: rackdHTTP, TFTP: rackdTFTP, Images: "http://" + addr + "/images/", Boot: boot})
	startNginx(t, "", withDynamicUpstream(t, nginxSite(t, g, m.dir, addr, ""), rackdHTTP), addr)
	tftpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	startTFTPD(t, g, "", m.dir, tftpAddr)
	waitTFTP(t, tftpAddr, loaderPath)
	waitTFTP(t, rackdTFTP, loaderPath)
	base := "http://" + addr

	// The shapes, from the tree.
	type shape struct {
		http, tftp []string
		path       string // the tree path whose bytes they serve
	}
	var shapes []shape
	top := map[string]bool{}
	for _, e := range g.tree.Files {
		parts := strings.Split(e.Path, "/")
		switch {
		case len(parts) == 1:
			top[e.Path] = true
			shapes = append(shapes, shape{path: e.Path,
				http: []string{"/images/" + e.Path, "/" + e.Path},
				tftp: []string{e.Path, "images/" + e.Path}})
		case len(parts) == 6 && parts[0] != "bootloaders" && parts[0] != "images":
			hash := g.imageName(t, e.Path)
			shapes = append(shapes, shape{path: e.Path,
				http: []string{"/images/" + hash + "/" + e.Path, "/images/" + hash, "/" + e.Path},
				tftp: []string{hash + "/" + e.Path, "images/" + hash + "/" + e.Path, "images/" + hash}})
		}
	}
	for _, name := range maasLoaders {
		if !top[name] {
			t.Errorf("no bootloader %s at the top of the tree", name)
		}
	}
	sort.Slice(shapes, func(i, j int) bool { return shapes[i].path < shapes[j].path })

	var nHTTP, nTFTP int
	for _, s := range shapes {
		want := g.want(t, s.path)
		for _, p := range s.http {
			code, _, body := httpGet(t, base+p, "")
			if code != http.StatusOK {
				t.Errorf("GET %s: %d", p, code)
				continue
			}
			sameBytes(t, "GET "+p, body, want)
			nHTTP++
		}
		if len(want) > tftpMaxSize {
			continue
		}
		for _, f := range s.tftp {
			got, err := tftpGet(tftpAddr, f, 1468)
			if err != nil {
				t.Errorf("tftpd-hpa %s: %v", f, err)
				continue
			}
			sameBytes(t, "tftpd-hpa "+f, got, want)
			nTFTP++
		}
		// MAAS rackd's TFTP server asks the site for /images/<name>.
		got, err := tftpGet(rackdTFTP, s.tftp[0], 1468)
		if err != nil {
			t.Errorf("rackd TFTP %s: %v", s.tftp[0], err)
			continue
		}
		sameBytes(t, "rackd TFTP "+s.tftp[0], got, want)
		nTFTP++
	}
	t.Logf("%d files: %d HTTP and %d TFTP fetches byte-identical", len(shapes), nHTTP, nTFTP)

	for _, missing := range []string{"/images/nosuch.efi", "/images/0000000/ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel",
		"/images/ubuntu", "/images/bootloaders", "/grub/grub.cfg-52-54-00-12-34-56"} {
		if code, _, _ := httpGet(t, base+missing, ""); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", missing, code)
		}
	}
	if _, err := tftpGet(tftpAddr, "images/nosuch.efi", 0); err == nil || !strings.Contains(err.Error(), "File not found") {
		t.Errorf("tftpd-hpa images/nosuch.efi: %v, want File not found", err)
	}

	// Dynamic paths reach rackd: its boot config, its /log report.
	code, _, body := httpGet(t, base+"/grub/grub.cfg", "")
	if code != http.StatusOK {
		t.Fatalf("GET /grub/grub.cfg through the site: %d", code)
	}
	sameBytes(t, "GET /grub/grub.cfg", body, grubCfg)
	log := requests()
	for _, want := range []string{"http /boot/grub/grub.cfg 200", "log /images/bootx64.efi 127.0.0.1",
		"log /images/" + g.imageName(t, kernelPath) + "/" + kernelPath + " 127.0.0.1", "tftp bootx64.efi http 200"} {
		if !strings.Contains(log, want+"\n") {
			t.Errorf("rackd saw no %q; it saw:\n%s", want, tail([]byte(log), 3000))
		}
	}
	if strings.Contains(log, "log /grub/") {
		t.Errorf("a boot config was reported to /log as a boot file:\n%s", log)
	}
}
