package fs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/testskip"
)

func TestMountReadOnly(t *testing.T) {
	m := mountRig(t, Options{}, MountOptions{}, files{"d/f": []byte("f")})
	p := m.path("d/f")
	ops := map[string]error{
		"create":   os.WriteFile(m.path("new"), []byte("x"), 0o644),
		"truncate": os.Truncate(p, 0),
		"rename":   os.Rename(p, m.path("d/g")),
		"unlink":   os.Remove(p),
		"rmdir":    os.Remove(m.path("d")),
		"mkdir":    os.Mkdir(m.path("x"), 0o755),
		"chmod":    os.Chmod(p, 0o777),
		"chown":    os.Chown(p, 1, 1),
		"utimes":   os.Chtimes(p, time.Now(), time.Now()),
		"symlink":  os.Symlink("f", m.path("d/s")),
		"link":     os.Link(p, m.path("d/h")),
		"setxattr": unix.Setxattr(p, "user.x", []byte("1"), 0),
	}
	for _, flag := range []int{os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_TRUNC, os.O_WRONLY | os.O_APPEND} {
		f, err := os.OpenFile(p, flag, 0)
		if err == nil {
			f.Close()
		}
		ops[fmt.Sprintf("open %#x", flag)] = err
	}
	for name, err := range ops {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", name, err)
		}
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "f" {
		t.Errorf("d/f after refused writes: %q, %v", b, err)
	}
}

func TestMountStatusXattr(t *testing.T) {
	status := []byte(`{"generation":"g1"}`)
	const regions = "http://10.0.0.1:5240/MAAS,http://10.0.0.2:5240/MAAS"
	m := mountRig(t, Options{Status: func() ([]byte, error) { return status, nil }},
		MountOptions{Debug: true, FsName: regions}, files{"f": []byte("f")})
	if _, _, source := mountInfo(t, m.dir); source != regions {
		t.Errorf("mount source %q, want %q", source, regions)
	}
	buf := make([]byte, 64<<10)
	n, err := unix.Getxattr(m.dir, StatusXattr, buf)
	if err != nil || !bytes.Equal(buf[:n], status) {
		t.Errorf("getxattr: %q, %v", buf[:max(n, 0)], err)
	}
	n, err = unix.Listxattr(m.dir, buf)
	if err != nil || !bytes.Contains(buf[:n], []byte(StatusXattr)) {
		t.Errorf("listxattr: %q, %v", buf[:max(n, 0)], err)
	}
	if _, err := unix.Getxattr(m.path("f"), StatusXattr, buf); !errors.Is(err, unix.ENODATA) {
		t.Errorf("status xattr on a file: %v, want ENODATA", err)
	}
	if m.logs.count(slog.LevelDebug) == 0 {
		t.Error("Debug mount logged no FUSE traffic")
	}
}

func TestMountAllowOther(t *testing.T) {
	requireFUSE(t)
	if os.Geteuid() != 0 {
		testskip.Skip(t, "needs root to run a reader as another uid")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		testskip.Skipf(t, "setpriv (util-linux) not installed: %v", err)
	}
	content := randBytes(30, 100_000)
	readAsNobody := func(allow bool) ([]byte, error) {
		c := newFakeContent()
		r := NewRoot(c, Options{})
		mustUpdate(t, r, files{"bootx64.efi": content}.tree(c, ""))
		dir := filepath.Join(t.TempDir(), "mnt")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		openForOthers(t, filepath.Dir(dir))
		srv, err := Mount(dir, r, MountOptions{AllowOther: allow})
		if err != nil {
			t.Fatal(err)
		}
		defer unmount(t, srv)
		cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "cat", filepath.Join(dir, "bootx64.efi"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return out, fmt.Errorf("%w: %s", err, stderr.String())
		}
		return out, nil
	}
	out, err := readAsNobody(true)
	if err != nil || !bytes.Equal(out, content) {
		t.Errorf("allow_other: uid 65534 read %d bytes, err %v", len(out), err)
	}
	if _, err := readAsNobody(false); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("without allow_other uid 65534 was not refused: %v", err)
	}
}

func TestMountDetachesStaleMount(t *testing.T) {
	requireFUSE(t)
	if os.Geteuid() != 0 {
		testskip.Skip(t, "needs root to detach a mount")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) }) // if the test fails half-way
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "mounted\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q, %v", line, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "child" {
		t.Fatalf("child's mount: %q, %v", b, err)
	}
	cmd.Process.Kill() // the FUSE server dies; its mount stays, dead
	cmd.Wait()
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("statfs of the dead mount: %v, want ENOTCONN", err)
	}

	c := newFakeContent()
	r := NewRoot(c, Options{})
	mustUpdate(t, r, files{"f": []byte("parent")}.tree(c, ""))
	srv, err := Mount(dir, r, MountOptions{})
	if err != nil {
		t.Fatalf("Mount over a dead mount: %v", err)
	}
	defer unmount(t, srv)
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "parent" {
		t.Errorf("after remount: %q, %v", b, err)
	}
}
