package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/testskip"
)

// The PXE network: a bridge in a private network namespace with the rack's
// addresses and a tap device for the guest.
const (
	rackIP   = "192.168.77.1" // tftpd-hpa on the mount, nginx
	configIP = "192.168.77.2" // tftpd-hpa serving boot configs
)

// testPXE boots a QEMU guest over the network from the mount: dnsmasq
// answers DHCP, tftpd-hpa (on the mount) serves lpxelinux.0 and
// ldlinux.c32, nginx (on the mount) the kernel and initrd named the MAAS
// 3.5 way, /images/<hash>/ubuntu/...; all of them came upstream -> region
// -> rack mount. Boot configs are not boot images: a MAAS rack makes them
// itself, so a second tftpd-hpa serves one from a small local directory and
// DHCP option 209 points pxelinux at it. The guest's /init prints the
// sha256 of a payload in the initrd; the test passes when it is the right
// one.
func (g *rig) testPXE(t *testing.T) {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		testskip.Skip(t, "qemu-system-x86_64 is not installed (package qemu-system-x86)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		testskip.Skip(t, "/dev/net/tun is absent: no tap device for the guest")
	}
	m := g.mount(t, mountSpec{})
	ns := netns(t)

	cfg := t.TempDir()
	if err := os.Chmod(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(cfg, "pxelinux.cfg"), 0o755); err != nil {
		t.Fatal(err)
	}
	images := "http://" + rackIP + ":5248/images/"
	conf := fmt.Sprintf(`SERIAL 0 115200
DEFAULT netboot
PROMPT 0
LABEL netboot
  KERNEL %s%s/ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel
  INITRD %s%s/ubuntu/amd64/ga-22.04/jammy/stable/boot-initrd
  APPEND console=ttyS0 quiet panic=-1
`, images, g.imageName(t, kernelPath), images, g.imageName(t, initrdPath))
	if err := os.WriteFile(filepath.Join(cfg, "pxelinux.cfg", "default"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	startTFTPD(t, g, ns, m.dir, rackIP+":69")
	startTFTPD(t, g, ns, cfg, configIP+":69")
	startNginx(t, ns, nginxSite(t, g, m.dir, rackIP+":5248", ""), "")
	dir := t.TempDir()
	daemon(t, ns, "dnsmasq", "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
		"--interface=br0", "--bind-interfaces", "--pid-file="+filepath.Join(dir, "dnsmasq.pid"),
		"--dhcp-leasefile="+filepath.Join(dir, "leases"),
		"--dhcp-range=192.168.77.50,192.168.77.99,255.255.255.0,1h",
		"--dhcp-boot=lpxelinux.0,,"+rackIP,
		"--dhcp-option-force=209,"+configIP+"::pxelinux.cfg/default",
		// Without a router advertisement iPXE waits for IPv6 (~12 s).
		"--enable-ra", "--dhcp-range=fd77::,ra-only,64")

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	serial := filepath.Join(dir, "serial.log")
	out, err := os.Create(serial)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+ns, "--", qemu,
		"-accel", "tcg", "-m", "512", "-nographic", "-no-reboot",
		"-boot", "order=n,reboot-timeout=1000",
		"-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	runErr := cmd.Run()
	took := time.Since(start)
	log, _ := os.ReadFile(serial)

	// QEMU exits 0 whether the boot worked or not: the marker decides.
	got := regexp.MustCompile(`NETBOOT-OK ([0-9a-f]{64})`).FindSubmatch(log)
	switch {
	case got == nil:
		t.Fatalf("no NETBOOT-OK marker after %s (qemu: %v); serial console:\n%s", took.Round(time.Millisecond), runErr, tail(log, 6000))
	case string(got[1]) != g.marker:
		t.Fatalf("the guest printed NETBOOT-OK %s, want %s: its initrd is not the one uploaded", got[1], g.marker)
	}
	t.Logf("the guest booted from the mount and printed its marker in %s", took.Round(time.Millisecond))
	if st := m.status(t); st.Reads.Opens == 0 || st.Reads.ReadErrors != 0 {
		t.Errorf("mount status after the boot: %+v", st.Reads)
	}
}

// netns creates a network namespace with a bridge holding the rack's
// addresses and a tap device for a guest, and deletes it when the test
// ends.
func netns(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("bootfs-e2e-%d", os.Getpid())
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v %s", ns, err, out)
		}
	})
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0"},
		{"tuntap", "add", "dev", "tap0", "mode", "tap"},
		{"link", "set", "tap0", "master", "br0"},
		{"addr", "add", rackIP + "/24", "dev", "br0"},
		{"addr", "add", configIP + "/24", "dev", "br0"},
		{"addr", "add", "fd77::1/64", "dev", "br0", "nodad"},
		{"link", "set", "br0", "up"},
		{"link", "set", "tap0", "up"},
	} {
		run(t, "ip", append([]string{"-n", ns}, args...)...)
	}
	return ns
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
