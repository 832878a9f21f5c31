package fs

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bootfs/bootfs/internal/testskip"
)

// helperEnv makes the test binary a child that mounts the directory named by
// the variable and hangs until killed (see TestMountDetachesStaleMount).
const helperEnv = "BOOTFS_FS_TEST_HANG_MOUNTED"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		hangMounted(dir)
	}
	os.Exit(m.Run())
}

func hangMounted(dir string) {
	c := newFakeContent()
	r := NewRoot(c, Options{})
	if err := r.Update(files{"f": []byte("child")}.tree(c, "")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, err := Mount(dir, r, MountOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("mounted")
	select {}
}

const fuseSuperMagic = 0x65735546

func requireFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		testskip.Skipf(t, "cannot mount FUSE: /dev/fuse is absent (%v)", err)
	}
}

// mounted is a Root mounted under t.TempDir(), unmounted by t.Cleanup.
type mounted struct {
	dir  string
	root *Root
	c    *fakeContent
	logs *logRecorder
}

func mountRig(t *testing.T, o Options, mo MountOptions, tree files) *mounted {
	t.Helper()
	return mountRigWith(t, o, mo, tree, nil)
}

// mountRigWith is mountRig whose Root reads from wrap(m.c) (from m.c if wrap
// is nil).
func mountRigWith(t *testing.T, o Options, mo MountOptions, tree files, wrap func(*fakeContent) Content) *mounted {
	t.Helper()
	requireFUSE(t)
	m := &mounted{c: newFakeContent(), logs: &logRecorder{}}
	o.Log = slog.New(m.logs)
	var c Content = m.c
	if wrap != nil {
		c = wrap(m.c)
	}
	m.root = NewRoot(c, o)
	if tree != nil {
		mustUpdate(t, m.root, tree.tree(m.c, "g1"))
	}
	m.dir = t.TempDir()
	srv, err := Mount(m.dir, m.root, mo)
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Cleanup(func() { unmount(t, srv) })
	return m
}

func unmount(t *testing.T, srv *fuse.Server) {
	t.Helper()
	if err := srv.Unmount(); err != nil {
		t.Errorf("Unmount: %v", err)
	}
	srv.Wait()
}

func (m *mounted) path(p string) string { return filepath.Join(m.dir, p) }

func stat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatalf("stat: %v", err)
	}
	return &st
}

func readDirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

const kernelPath = "ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"

// mountInfo returns the mount options, type and source of the mount at dir.
func mountInfo(t *testing.T, dir string) (opts, fstype, source string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		pre, post, ok := strings.Cut(strings.TrimSpace(line), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if ok && len(f) >= 6 && len(g) >= 2 && f[4] == dir {
			opts, fstype, source = f[5], g[0], g[1]
		}
	}
	if fstype == "" {
		t.Fatalf("%s not in /proc/self/mountinfo", dir)
	}
	return opts, fstype, source
}

// openForOthers lets other users traverse to dir, made by t.TempDir (0700).
func openForOthers(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
