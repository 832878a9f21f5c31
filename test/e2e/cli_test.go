package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/bootfs/bootfs/rack"
)

// testReadOnly: every change through the mount fails with EROFS, and
// /proc/mounts shows a read-only fuse.bootfs mount of SOURCE.
func (g *rig) testReadOnly(t *testing.T) {
	m := g.mount(t, mountSpec{})
	k := m.path(kernelPath)
	for what, err := range map[string]error{
		"create":   os.WriteFile(m.path("new-file"), []byte("x"), 0o644),
		"write":    func() error { f, err := os.OpenFile(k, os.O_WRONLY, 0); f.Close(); return err }(),
		"truncate": os.Truncate(k, 0),
		"mkdir":    os.Mkdir(m.path("ubuntu/new-dir"), 0o755),
		"rename":   os.Rename(k, m.path("ubuntu/kernel")),
		"remove":   os.Remove(k),
		"rmdir":    os.Remove(m.path("bootloaders/pxe/i386")),
		"chmod":    os.Chmod(k, 0o777),
		"symlink":  os.Symlink("x", m.path("link")),
		"link":     os.Link(k, m.path("hardlink")),
		"setxattr": unix.Setxattr(k, "user.x", []byte("y"), 0),
	} {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", what, err)
		}
	}
	sameBytes(t, "kernel after the attempts", readFile(t, k), g.want(t, kernelPath))

	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 3 && f[1] == m.dir {
			line = l
		}
	}
	f := strings.Fields(line)
	if len(f) < 4 || f[0] != g.sources() || f[2] != "fuse.bootfs" || !strings.HasPrefix(f[3], "ro,") {
		t.Errorf("/proc/mounts line %q", line)
	}
	// The kernel's readahead was raised to four blocks.
	var st unix.Stat_t
	if err := unix.Stat(m.dir, &st); err != nil {
		t.Fatal(err)
	}
	ra, err := os.ReadFile(fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil || strings.TrimSpace(string(ra)) != "4096" {
		t.Errorf("read_ahead_kb of the mount: %q, %v; want 4096", ra, err)
	}
}

// testBadMounts: a bad option, secret or region list fails with a clear
// message, before anything is mounted, and leaves no process behind.
func (g *rig) testBadMounts(t *testing.T) {
	dead := fmt.Sprintf("http://127.0.0.1:%d", freePort(t, "tcp"))
	dead2 := fmt.Sprintf("http://127.0.0.1:%d", freePort(t, "tcp"))
	badSecret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(badSecret, []byte("not-the-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		source string
		sub    string // appended to the mountpoint
		opts   []string
		want   []string
	}{
		{"unknown option", "", "", []string{"cache_sise=4G"}, []string{`unknown mount option "cache_sise=4G"`}},
		{"malformed size", "", "", []string{"cache_size=4Q"}, []string{`cache_size=4Q`, "not a size"}},
		{"rw", "", "", []string{"rw"}, []string{"read-only"}},
		{"wrong secret", "", "", []string{"secret_file=" + badSecret}, []string{"shared secret", g.regions[0].URL(), g.regions[1].URL()}},
		{"no region answers", dead + "," + dead2, "", nil, []string{"no region answered", "connection refused", dead, dead2}},
		{"bad cache dir", "", "", []string{"cache_dir=/proc/none"}, []string{"block cache /proc/none"}},
		{"missing mountpoint", "", "/none", nil, []string{"mountpoint", "no such file or directory"}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			m := g.newMountDirs(t, "")
			source := tc.source
			if source == "" {
				source = g.sources()
			}
			out, err := g.run(t, []string{source, m.dir + tc.sub, "-o", m.options(tc.opts...)})
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("bootfs: %v, want exit status 1; output:\n%s", err, out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output %q lacks %q", out, want)
				}
			}
			if !strings.HasPrefix(out, "bootfs: ") {
				t.Errorf("output %q does not start with the program name", out)
			}
			if isMounted(t, m.dir) || daemonPID(m.dir) != 0 {
				t.Fatalf("something is mounted or running at %s after a failed mount", m.dir)
			}
		})
	}
}

// testStatusAndWarm: `bootfs status` prints the mount's state (and JSON
// with --json); `bootfs warm` reads files through the mount so that later
// reads ask no region.
func (g *rig) testStatusAndWarm(t *testing.T) {
	p := newProxy(t, g.regions[0].URL())
	m := g.mount(t, mountSpec{source: p.URL(), opts: []string{"metrics=127.0.0.1:0"}})

	out, err := g.run(t, []string{"warm", m.dir, "ubuntu/amd64/ga-24.04", m.path(loaderPath)})
	if err != nil {
		t.Fatalf("bootfs warm: %v\n%s", err, out)
	}
	warmed := []string{"ubuntu/amd64/ga-24.04/noble/stable/boot-kernel", "ubuntu/amd64/ga-24.04/noble/stable/boot-initrd", big2Path, loaderPath}
	for _, f := range warmed {
		if !strings.Contains(out, "warmed "+m.path(f)) {
			t.Errorf("warm output lacks %s:\n%s", f, out)
		}
	}
	if !strings.Contains(out, "warmed 4 files") {
		t.Errorf("warm summary missing:\n%s", out)
	}
	fetched := p.blob()
	var total int64
	for _, f := range warmed {
		total += g.mustEntry(t, f).Size
	}
	if fetched != total {
		t.Errorf("warm fetched %d bytes for %d bytes of files", fetched, total)
	}
	for _, f := range warmed {
		dropPageCache(t, m.path(f))
		sameBytes(t, f, readFile(t, m.path(f)), g.want(t, f))
	}
	if got := p.blob(); got != fetched {
		t.Errorf("reads after warm fetched %d more bytes", got-fetched)
	}
	if out, err := g.run(t, []string{"warm", m.dir, "../../etc"}); err == nil || !strings.Contains(out, "not inside the mount") {
		t.Errorf("warm outside the mount: %v %s", err, out)
	}

	out, err = g.run(t, []string{"status", m.dir})
	if err != nil {
		t.Fatalf("bootfs status: %v\n%s", err, out)
	}
	for _, want := range []string{"generation " + g.tree.Generation, m.dir, p.URL(), "hit ratio", "cache ", "metrics "} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	out, err = g.run(t, []string{"status", "--json", m.dir})
	var st rack.Status
	if err != nil || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("bootfs status --json: %v\n%s", err, out)
	}
	if st.Tree.Generation != g.tree.Generation || st.Cache.Files != 4 || st.Reads.BytesFetched != total || len(st.Regions) != 1 {
		t.Errorf("status JSON %s", toJSON(st))
	}
	_, _, metrics := httpGet(t, "http://"+st.Metrics+"/metrics", "")
	if !strings.Contains(string(metrics), "bootfs_rack_cache_files 4") {
		t.Errorf("metrics at %s lack bootfs_rack_cache_files 4", st.Metrics)
	}
	if out, err := g.run(t, []string{"status", t.TempDir()}); err == nil || !strings.Contains(out, "not the root of a bootfs mount") {
		t.Errorf("status of a plain directory: %v %s", err, out)
	}
}

// testSignals: SIGTERM unmounts and exits 0, in the foreground (-f) and in
// the background; fusermount3 -u ends the background process too.
func (g *rig) testSignals(t *testing.T) {
	t.Run("foreground_SIGTERM", func(t *testing.T) {
		m := g.newMountDirs(t, "")
		cmd := exec.Command(g.bin, g.sources(), m.dir, "-o", m.options(), "-f")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			unix.Unmount(m.dir, unix.MNT_DETACH)
			if t.Failed() {
				t.Logf("bootfs log of %s:\n%s", m.dir, m.log())
			}
		})
		testpoll.Until(t, 20*time.Second, "bootfs -f to mount", func() bool { return isMounted(t, m.dir) })
		readFile(t, m.path(loaderPath))
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("bootfs -f after SIGTERM: %v\n%s", err, m.log())
			}
		case <-time.After(20 * time.Second):
			t.Fatal("bootfs -f did not exit after SIGTERM")
		}
		if isMounted(t, m.dir) {
			t.Fatal("still mounted after SIGTERM")
		}
	})
	t.Run("background_SIGTERM", func(t *testing.T) {
		m := g.mount(t, mountSpec{})
		pid := daemonPID(m.dir)
		if pid == 0 {
			t.Fatal("no bootfs process serves the mount")
		}
		syscall.Kill(pid, syscall.SIGTERM)
		testpoll.Until(t, 20*time.Second, "bootfs to exit after SIGTERM", func() bool { return processGone(pid) })
		if isMounted(t, m.dir) {
			t.Fatal("still mounted after SIGTERM")
		}
		if !strings.Contains(m.log(), "signal received, unmounting") {
			t.Errorf("log lacks the shutdown:\n%s", m.log())
		}
	})
	t.Run("fusermount3", func(t *testing.T) {
		m := g.mount(t, mountSpec{})
		pid := daemonPID(m.dir)
		run(t, "fusermount3", "-u", m.dir)
		testpoll.Until(t, 20*time.Second, "bootfs to exit after fusermount3 -u", func() bool { return processGone(pid) })
		if isMounted(t, m.dir) {
			t.Fatal("still mounted after fusermount3 -u")
		}
	})
}

// testFstab: mount(8) mounts an fstab line of type fuse.bootfs and
// umount(8) unmounts it. mount(8) runs mount.fuse3, which runs "bootfs
// SOURCE MOUNTPOINT -o ..." through /bin/sh; mount(8) drops PATH from the
// helper's environment, so bootfs must sit in the shell's default PATH, as
// the package's /usr/bin/bootfs does. The test runs in a private mount
// namespace where the test binary is bind-mounted as /usr/local/sbin/bootfs.
func (g *rig) testFstab(t *testing.T) {
	m := g.newMountDirs(t, "")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(g.bin, filepath.Join(bin, "bootfs")); err != nil {
		t.Fatal(err)
	}
	fstab := filepath.Join(dir, "fstab")
	line := fmt.Sprintf("%s  %s  fuse.bootfs  %s,_netdev,x-systemd.requires=network-online.target,cache_size=64M  0 0\n",
		g.sources(), m.dir, m.options())
	if err := os.WriteFile(fstab, []byte("# test fstab\n"+line), 0o644); err != nil {
		t.Fatal(err)
	}
	status := filepath.Join(dir, "status.json")
	script := `set -e
mount --bind "$1" /usr/local/sbin
mount -T "$2" "$3"
sha256sum "$3/` + kernelPath + `"
bootfs status --json "$3" > "$4"
umount "$3"
`
	out, err := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
		bin, fstab, m.dir, status).CombinedOutput()
	if err != nil {
		t.Fatalf("mount -T fstab in a private namespace: %v\n%s\n%s", err, out, m.log())
	}
	if want := g.mustEntry(t, kernelPath).SHA256.String(); !strings.HasPrefix(string(out), want) {
		t.Errorf("sha256sum through the fstab mount: %q, want %s", out, want)
	}
	var st rack.Status
	b, _ := os.ReadFile(status)
	if err := json.Unmarshal(b, &st); err != nil || st.Cache.Limit != 64<<20 || st.Source != g.sources() {
		t.Errorf("status of the fstab mount (%v): %s", err, b)
	}
	testpoll.Until(t, 20*time.Second, "bootfs to exit after umount", func() bool { return daemonPID(m.dir) == 0 })
	if !strings.Contains(m.log(), "mounted") || !strings.Contains(m.log(), "stopped") {
		t.Errorf("bootfs log:\n%s", m.log())
	}
}
