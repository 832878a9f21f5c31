package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/testskip"
)

// OVMF from Debian's ovmf package, without secure boot.
const (
	ovmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	ovmfVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// testUEFIBoot UEFI-boots a QEMU guest (OVMF, secure boot off) from the
// mount the way a MAAS rack boots one, through shim (bootx64.efi), grub
// (grubx64.efi), then the kernel and initrd; once over TFTP, once over
// HTTP. In both, nginx runs the packaging's site on the mount and a
// stand-in for MAAS rackd plays rackd's part: it renders grub/grub.cfg
// (here: serves a static one) and, for TFTP, is the TFTP server that
// fetches every file from the site's /images/<name>, as MAAS's rack TFTP
// server does. Over HTTP the firmware, shim and grub fetch /images/...
// from the site itself, and grub's config comes through the site's
// forwarding to rackd.
func (g *rig) testUEFIBoot(t *testing.T) {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		testskip.Skip(t, "qemu-system-x86_64 is not installed (package qemu-system-x86)")
	}
	for _, f := range []string{ovmfCode, ovmfVars} {
		if _, err := os.Stat(f); err != nil {
			testskip.Skipf(t, "%s is absent (package ovmf): %v", f, err)
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		testskip.Skip(t, "/dev/net/tun is absent: no tap device for the guest")
	}
	m := g.mount(t, mountSpec{})
	t.Run("TFTP", func(t *testing.T) { g.uefiBoot(t, m, qemu, false) })
	t.Run("HTTP", func(t *testing.T) { g.uefiBoot(t, m, qemu, true) })
	if st := m.status(t); st.Reads.Opens == 0 || st.Reads.ReadErrors != 0 {
		t.Errorf("mount status after the boots: %+v", st.Reads)
	}
}

// uefiBoot boots one guest over TFTP or over HTTP.
func (g *rig) uefiBoot(t *testing.T, m *bootfsMount, qemu string, overHTTP bool) {
	ns := netns(t)
	kernel := g.imageName(t, kernelPath) + "/" + kernelPath
	initrd := g.imageName(t, initrdPath) + "/" + initrdPath

	// grub's $prefix is (tftp,<server>)/grub or (http,<server>)/grub: it
	// reads /grub/grub.cfg from where it came from. Over TFTP the kernel
	// is asked for by its MAAS TFTP path, <hash>/ubuntu/...; over HTTP by
	// its /images/<hash>/ubuntu/... URL.
	path := "/"
	if overHTTP {
		path = "/images/"
	}
	cfg := fmt.Sprintf(`set timeout=0
set default=0
echo "grub: prefix $prefix"
menuentry bootfs {
	linux %[1]s%[2]s console=ttyS0 quiet panic=-1
	initrd %[1]s%[3]s
}
`, path, kernel, initrd)
	boot := t.TempDir()
	if err := os.MkdirAll(filepath.Join(boot, "grub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(boot, "grub", "grub.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	rc := rackdConfig{HTTP: dynamicUpstream, Images: "http://" + rackIP + ":5248/images/", Boot: boot}
	if !overHTTP {
		rc.TFTP = rackIP + ":69"
	}
	requests := startRackd(t, ns, rc)

	site := nginxSite(t, g, m.dir, rackIP+":5248", "")
	bootURL := "http://" + rackIP + ":5248/images/bootx64.efi"
	if overHTTP {
		// grub 2.06 cannot name a port in its (http,<host>) device (it
		// always connects to port 80): booted from a URL on 5248 it
		// cannot read its config. The site also listens on port 80 and
		// the guest boots from there.
		site = strings.Replace(site, "listen "+rackIP+":5248;", "listen "+rackIP+":5248;\n    listen "+rackIP+":80;", 1)
		bootURL = "http://" + rackIP + "/images/bootx64.efi"
	}
	startNginx(t, ns, site, "")

	dir := t.TempDir()
	dhcp := []string{"dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
		"--interface=br0", "--bind-interfaces", "--pid-file=" + filepath.Join(dir, "dnsmasq.pid"),
		"--dhcp-leasefile=" + filepath.Join(dir, "leases"),
		"--dhcp-range=192.168.77.50,192.168.77.99,255.255.255.0,1h"}
	fwcfg := []string{"-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n"}
	if overHTTP {
		// OVMF's HTTP boot: an offer with vendor class HTTPClient and a
		// URL as its boot file. PXE is off, so the firmware goes
		// straight to HTTP boot.
		dhcp = append(dhcp, "--dhcp-vendorclass=set:http,HTTPClient",
			"--dhcp-option-force=tag:http,60,HTTPClient", "--dhcp-boot=tag:http,"+bootURL)
		fwcfg = append(fwcfg, "-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n")
	} else {
		dhcp = append(dhcp, "--dhcp-boot=bootx64.efi,,"+rackIP)
	}
	daemon(t, ns, "dnsmasq", dhcp...)

	vars := filepath.Join(dir, "OVMF_VARS.fd")
	b, err := os.ReadFile(ovmfVars)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vars, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	serial := filepath.Join(dir, "serial.log")
	out, err := os.Create(serial)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	args := append([]string{"--net=/run/netns/" + ns, "--", qemu,
		"-accel", "tcg", "-m", "512", "-nographic", "-no-reboot",
		"-drive", "if=pflash,format=raw,readonly=on,file=" + ovmfCode,
		"-drive", "if=pflash,format=raw,file=" + vars,
		// OVMF's own virtio-net driver, not iPXE's option ROM.
		"-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,romfile="}, fwcfg...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	runErr := cmd.Run()
	took := time.Since(start)
	log, _ := os.ReadFile(serial)
	log = regexp.MustCompile(`\x1b\[[0-9;?]*[a-zA-Z]`).ReplaceAll(log, nil)
	reqs := requests()

	got := regexp.MustCompile(`NETBOOT-OK ([0-9a-f]{64})`).FindSubmatch(log)
	switch {
	case got == nil:
		t.Fatalf("no NETBOOT-OK marker after %s (qemu: %v); rackd saw:\n%s\nserial console:\n%s",
			took.Round(time.Millisecond), runErr, tail([]byte(reqs), 3000), tail(log, 6000))
	case string(got[1]) != g.marker:
		t.Fatalf("the guest printed NETBOOT-OK %s, want %s: its initrd is not the one uploaded", got[1], g.marker)
	}
	t.Logf("the guest UEFI-booted from the mount and printed its marker in %s", took.Round(time.Millisecond))

	// Each step really came the way it should.
	var want []string
	if overHTTP {
		want = []string{"log /images/bootx64.efi ", "log /images//grubx64.efi ", "http /boot/grub/grub.cfg 200",
			"log /images/" + kernel + " ", "log /images/" + initrd + " "}
	} else {
		want = []string{"tftp bootx64.efi http 200", "tftp grubx64.efi http 200", "tftp /grub/grub.cfg config",
			"tftp /" + kernel + " http 200", "tftp /" + initrd + " http 200",
			"log /images/bootx64.efi ", "log /images/" + kernel + " "}
	}
	for _, w := range want {
		if !strings.Contains(reqs, w) {
			t.Errorf("rackd saw no %q; it saw:\n%s", w, tail([]byte(reqs), 3000))
		}
	}
}
