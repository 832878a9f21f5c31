package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/fs"
	"github.com/bootfs/bootfs/rack"
)

// bootfsMount is a mount made by the bootfs binary.
type bootfsMount struct {
	g        *rig
	dir      string // the mountpoint
	cacheDir string
	logFile  string
	done     bool // unmounted and the daemon gone
}

// mountSpec says how to mount.
type mountSpec struct {
	source   string   // "" means both regions
	cacheDir string   // "" means a fresh one
	opts     []string // more -o options
}

// mount runs `bootfs SOURCE MOUNTPOINT -o ...` (the background form, as
// mount(8) would) and checks that the mount exists when it returns. The
// mount is unmounted, and its daemon waited for, when the test ends.
func (g *rig) mount(t *testing.T, spec mountSpec) *bootfsMount {
	t.Helper()
	m := g.newMountDirs(t, spec.cacheDir)
	if spec.source == "" {
		spec.source = g.sources()
	}
	out, err := g.run(t, []string{spec.source, m.dir, "-o", m.options(spec.opts...)})
	if err != nil {
		t.Fatalf("bootfs mount: %v\n%s\n%s", err, out, m.log())
	}
	if !isMounted(t, m.dir) {
		t.Fatalf("bootfs exited 0 but %s is not mounted:\n%s", m.dir, m.log())
	}
	t.Cleanup(func() {
		m.unmount(t)
		if t.Failed() {
			t.Logf("bootfs log of %s:\n%s", m.dir, m.log())
		}
	})
	return m
}

// newMountDirs makes a mountpoint, a cache directory (unless given) and a
// log file name.
func (g *rig) newMountDirs(t *testing.T, cacheDir string) *bootfsMount {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // tftpd-hpa and nginx workers traverse it
		t.Fatal(err)
	}
	m := &bootfsMount{g: g, dir: filepath.Join(dir, "mnt"), cacheDir: cacheDir, logFile: filepath.Join(dir, "bootfs.log")}
	if m.cacheDir == "" {
		m.cacheDir = filepath.Join(dir, "cache")
	}
	if err := os.Mkdir(m.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return m
}

// options returns the -o list every test mount uses, plus more.
func (m *bootfsMount) options(more ...string) string {
	return strings.Join(append([]string{"ro", "allow_other", "secret_file=" + m.g.secretFile,
		"cache_dir=" + m.cacheDir, "log_file=" + m.logFile, "log_level=" + m.g.logLevel(), "tree_wait=5s"}, more...), ",")
}

// run runs the bootfs binary with args; its stderr goes to a file, never a
// pipe, since a background daemon would hold a pipe open.
func (g *rig) run(t *testing.T, args []string) (string, error) {
	t.Helper()
	errFile, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd := exec.Command(g.bin, args...)
	cmd.Stdout, cmd.Stderr = errFile, errFile
	runErr := cmd.Run()
	out, _ := os.ReadFile(errFile.Name())
	return string(out), runErr
}

// path returns the absolute path of a tree path in the mount.
func (m *bootfsMount) path(p string) string { return filepath.Join(m.dir, p) }

func (m *bootfsMount) log() string {
	b, _ := os.ReadFile(m.logFile)
	const tail = 12000
	if len(b) > tail {
		b = b[len(b)-tail:]
	}
	return string(b)
}

// status reads the mount's status attribute.
func (m *bootfsMount) status(t *testing.T) rack.Status {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Getxattr(m.dir, fs.StatusXattr, buf)
	if err != nil {
		t.Fatalf("getxattr %s: %v", m.dir, err)
	}
	var st rack.Status
	if err := json.Unmarshal(buf[:n], &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// regionStatus returns the status line of the region with URL u.
func (m *bootfsMount) regionStatus(t *testing.T, u string) rack.RegionStatus {
	t.Helper()
	for _, r := range m.status(t).Regions {
		if r.URL == u {
			return r
		}
	}
	t.Fatalf("no region %s in the status", u)
	return rack.RegionStatus{}
}

// unmount unmounts with umount(2) and waits for the daemon to exit (which
// flushes the cache). A busy mount is stopped with SIGTERM instead.
func (m *bootfsMount) unmount(t *testing.T) {
	t.Helper()
	if m.done {
		return
	}
	m.done = true
	pid := daemonPID(m.dir)
	if isMounted(t, m.dir) {
		err := unix.Unmount(m.dir, 0)
		if err != nil && pid > 0 {
			t.Logf("umount %s: %v; sending SIGTERM to bootfs %d", m.dir, err, pid)
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	if pid > 0 && !waitExit(pid, 30*time.Second) {
		t.Errorf("bootfs %d serving %s did not exit; killing it", pid, m.dir)
		syscall.Kill(pid, syscall.SIGKILL)
		unix.Unmount(m.dir, unix.MNT_DETACH)
	}
	if isMounted(t, m.dir) {
		t.Errorf("%s still mounted after unmount", m.dir)
		unix.Unmount(m.dir, unix.MNT_DETACH)
	}
}

// daemonPID finds the bootfs process serving dir: its arguments name dir
// and end with -f (the background form re-executes itself so).
func daemonPID(dir string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if slices.Contains(args, dir) && args[len(args)-1] == "-f" && strings.HasSuffix(args[0], "bootfs") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	return 0
}

// processGone reports whether process pid is gone (or a zombie nobody
// reaps).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] == 'Z'
}

// waitExit waits until process pid is gone. Unlike testpoll.Until it does
// not fail the test: unmount kills a daemon that outstays it and carries on.
func waitExit(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// isMounted reports whether dir is a mountpoint.
func isMounted(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 1 && fields[1] == dir {
			return true
		}
	}
	return false
}

// readFile reads a file through the mount.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

// sameBytes fails unless got and want are equal, saying where they differ.
func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: %d bytes, want %d; first difference at byte %d", what, len(got), len(want), i)
}
