package fs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
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
		t.Skipf("cannot mount FUSE: /dev/fuse is absent (%v)", err)
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
	requireFUSE(t)
	m := &mounted{c: newFakeContent(), logs: &logRecorder{}}
	o.Log = slog.New(m.logs)
	m.root = NewRoot(m.c, o)
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

func TestMountServesFiles(t *testing.T) {
	kernel, initrd, efi := randBytes(10, 5<<20+123), randBytes(11, 3<<20), randBytes(12, 1000)
	tree := files{
		"bootx64.efi":                        efi,
		"bootloaders/uefi/amd64/bootx64.efi": efi,
		kernelPath:                           kernel,
		"ubuntu/amd64/ga-22.04/jammy/stable/boot-initrd": initrd,
		"images/1a2b3c4": kernel,
		"empty":          {},
	}
	m := mountRig(t, Options{}, MountOptions{}, tree)

	for p, want := range tree {
		got, err := os.ReadFile(m.path(p))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, err %v; want %d bytes", p, len(got), err, len(want))
		}
	}

	f, err := os.Open(m.path(kernelPath))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for off := 0; off < len(kernel); off += len(chunk) {
		n, err := io.ReadFull(f, chunk)
		if want := kernel[off:min(off+len(chunk), len(kernel))]; !bytes.Equal(chunk[:n], want) {
			t.Fatalf("ReadFull at %d: %d bytes differ (err %v)", off, n, err)
		}
	}
	for _, off := range []int64{0, 1, 4095, 4097, 1<<20 - 1, 1<<20 + 1, 3<<20 + 12345, int64(len(kernel)) - 3} {
		for _, size := range []int{1, 7, 128<<10 + 5, 2<<20 + 3} {
			buf := make([]byte, size)
			n, err := f.ReadAt(buf, off)
			want := kernel[off:min(off+int64(size), int64(len(kernel)))]
			if !bytes.Equal(buf[:n], want) || (err != nil && !(errors.Is(err, io.EOF) && n < size)) {
				t.Errorf("pread %d+%d: %d bytes, err %v; want %d bytes", off, size, n, err, len(want))
			}
		}
	}

	tf := m.root.snapshot().dirs["ubuntu/amd64/ga-22.04/jammy/stable"].kids["boot-kernel"].file
	st := stat(t, m.path(kernelPath))
	if st.Mode != syscall.S_IFREG|0o444 || st.Size != int64(len(kernel)) || st.Nlink != 1 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("file stat: mode %o size %d nlink %d owner %d:%d", st.Mode, st.Size, st.Nlink, st.Uid, st.Gid)
	}
	if st.Ino != tf.ino || st.Mtim.Sec != int64(fileMtime(digest.Of(kernel))) {
		t.Errorf("file stat: ino %d mtime %d, want %d %d", st.Ino, st.Mtim.Sec, tf.ino, tf.mtime)
	}
	if st := stat(t, m.path("ubuntu/amd64")); st.Mode != syscall.S_IFDIR|0o555 || st.Nlink != 3 {
		t.Errorf("dir stat: mode %o nlink %d", st.Mode, st.Nlink)
	}
	if st := stat(t, m.dir); st.Ino != 1 || st.Mode != syscall.S_IFDIR|0o555 {
		t.Errorf("root stat: ino %d mode %o", st.Ino, st.Mode)
	}
	if got, want := readDirNames(t, m.dir), []string{"bootloaders", "bootx64.efi", "empty", "images", "ubuntu"}; !slices.Equal(got, want) {
		t.Errorf("root lists %q, want %q", got, want)
	}

	var sfs unix.Statfs_t
	if err := unix.Statfs(m.dir, &sfs); err != nil {
		t.Fatal(err)
	}
	if sfs.Type != fuseSuperMagic || sfs.Bfree != 0 || sfs.Blocks == 0 {
		t.Errorf("statfs: type %#x blocks %d free %d", sfs.Type, sfs.Blocks, sfs.Bfree)
	}
	opts, fstype, source := mountInfo(t, m.dir)
	if !slices.Contains(strings.Split(opts, ","), "ro") || fstype != "fuse.bootfs" || source != "bootfs" {
		t.Errorf("mountinfo: options %q type %q source %q", opts, fstype, source)
	}
}

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

func TestMountCachesLookups(t *testing.T) {
	m := mountRig(t, Options{NegativeTimeout: time.Hour, DirTimeout: time.Hour}, MountOptions{},
		files{"pxelinux.0": []byte("pxe"), "d/f": []byte("f")})
	s0 := m.root.Stats()
	for range 3 {
		if _, err := os.Stat(m.path("pxelinux.cfg/01-52-54-00-12-34-56")); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("missing file: %v", err)
		}
		if _, err := os.Stat(m.path("d/f")); err != nil {
			t.Fatal(err)
		}
	}
	s1 := m.root.Stats()
	if n := s1.NegativeLookups - s0.NegativeLookups; n != 1 {
		t.Errorf("%d negative lookups reached the file system, want 1 (cached)", n)
	}
	if n := s1.Lookups - s0.Lookups; n != 3 {
		t.Errorf("%d lookups reached the file system, want 3 (pxelinux.cfg, d, f)", n)
	}

	// A name that appears is visible at once despite the 1h negative entry.
	mustUpdate(t, m.root, files{"pxelinux.0": []byte("pxe"), "d/f": []byte("f"), "pxelinux.cfg/default": []byte("menu")}.tree(m.c, "g2"))
	if b, err := os.ReadFile(m.path("pxelinux.cfg/default")); err != nil || string(b) != "menu" {
		t.Errorf("new file after update: %q, %v", b, err)
	}
}

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

func TestMountUpdate(t *testing.T) {
	// Same size on purpose: only the inode number and mtime tell them apart.
	v1, v2 := randBytes(20, 4<<20+7), randBytes(21, 4<<20+7)
	m := mountRig(t, Options{DirTimeout: time.Hour}, MountOptions{},
		files{kernelPath: v1, "a/b/c": []byte("c"), "keep": []byte("keep")})

	f, err := os.Open(m.path(kernelPath))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(make([]byte, 10), 0); err != nil {
		t.Fatal(err)
	}
	before, keep := stat(t, m.path(kernelPath)), stat(t, m.path("keep"))
	stat(t, m.path("a/b")) // cached for an hour unless invalidated

	mustUpdate(t, m.root, files{kernelPath: v2, "keep": []byte("keep")}.tree(m.c, "g2"))

	old := make([]byte, len(v1))
	if n, err := f.ReadAt(old, 0); n != len(v1) || !bytes.Equal(old, v1) {
		t.Errorf("fd opened before the update read %d bytes (err %v), not the old content", n, err)
	}
	if got, err := os.ReadFile(m.path(kernelPath)); err != nil || !bytes.Equal(got, v2) {
		t.Errorf("open after the update: %d bytes, err %v; not the new content", len(got), err)
	}
	after := stat(t, m.path(kernelPath))
	var fst syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &fst); err != nil {
		t.Fatal(err)
	}
	if after.Ino == before.Ino || fst.Ino != before.Ino || after.Mtim.Sec == before.Mtim.Sec {
		t.Errorf("inodes: before %d, fd %d, after %d; mtimes %d -> %d", before.Ino, fst.Ino, after.Ino, before.Mtim.Sec, after.Mtim.Sec)
	}
	if k := stat(t, m.path("keep")); k.Ino != keep.Ino {
		t.Errorf("unchanged file changed inode %d -> %d", keep.Ino, k.Ino)
	}
	for _, p := range []string{"a", "a/b", "a/b/c"} {
		if _, err := os.Stat(m.path(p)); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("%s after its removal: %v", p, err)
		}
	}
	if got, want := readDirNames(t, m.dir), []string{"keep", "ubuntu"}; !slices.Equal(got, want) {
		t.Errorf("root lists %q, want %q", got, want)
	}

	err = m.root.Update(files{"../x": []byte("x")}.tree(m.c, "bad"))
	if !errors.Is(err, ErrInvalidTree) {
		t.Fatalf("bad tree: %v", err)
	}
	if got, err := os.ReadFile(m.path(kernelPath)); err != nil || !bytes.Equal(got, v2) {
		t.Errorf("after a refused tree: %d bytes, %v", len(got), err)
	}
	if s := m.root.Stats(); s.Notifications == 0 || s.NotifyFailures != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestMountRemountKeepsInodeNumbers(t *testing.T) {
	requireFUSE(t)
	tree := files{kernelPath: []byte("kernel"), "bootx64.efi": []byte("efi")}
	inos := func() map[string]uint64 {
		c := newFakeContent()
		r := NewRoot(c, Options{})
		mustUpdate(t, r, tree.tree(c, ""))
		dir := t.TempDir()
		srv, err := Mount(dir, r, MountOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer unmount(t, srv)
		out := make(map[string]uint64)
		for _, p := range []string{kernelPath, "bootx64.efi", "ubuntu/amd64"} {
			out[p] = stat(t, filepath.Join(dir, p)).Ino
		}
		return out
	}
	a, b := inos(), inos()
	for p := range a {
		if a[p] != b[p] || a[p] < 2 {
			t.Errorf("%s: inode %d then %d", p, a[p], b[p])
		}
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

// openForOthers lets other users traverse to dir, made by t.TempDir (0700).
func openForOthers(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMountAllowOther(t *testing.T) {
	requireFUSE(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a reader as another uid")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skipf("setpriv (util-linux) not installed: %v", err)
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

func TestMountReadErrorIsEIO(t *testing.T) {
	m := mountRig(t, Options{}, MountOptions{}, files{"bad": randBytes(40, 300_000)})
	m.c.setFail(digest.Of(randBytes(40, 300_000)), errInjected)
	for range 3 {
		if _, err := os.ReadFile(m.path("bad")); !errors.Is(err, syscall.EIO) {
			t.Fatalf("read: %v, want EIO", err)
		}
	}
	if n := m.logs.count(slog.LevelError); n != 1 {
		t.Errorf("%d error logs, want 1", n)
	}
	if s := m.root.Stats(); s.ReadErrors < 3 {
		t.Errorf("%d read errors counted, want >= 3", s.ReadErrors)
	}
}

func TestMountKeepsPageCache(t *testing.T) {
	content := randBytes(50, 64<<10)
	m := mountRig(t, Options{}, MountOptions{}, files{"f": content})
	for i := range 3 {
		if b, err := os.ReadFile(m.path("f")); err != nil || !bytes.Equal(b, content) {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	// The first read filled the page cache; FOPEN_KEEP_CACHE keeps it
	// across the later opens (without it every open drops the cache).
	first := m.c.callsFor(digest.Of(content))
	if b, err := os.ReadFile(m.path("f")); err != nil || !bytes.Equal(b, content) {
		t.Fatal(err)
	}
	if n := m.c.callsFor(digest.Of(content)); n != first {
		t.Errorf("re-open read content again: %d reads, then %d", first, n)
	}
}

func TestMountDetachesStaleMount(t *testing.T) {
	requireFUSE(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to detach a mount")
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

// TestMountUpdateRacingLookups updates a file many times while other
// goroutines keep looking it up: a stale lookup reply must never outlive the
// update that made it stale (file entries are cached for an hour here).
func TestMountUpdateRacingLookups(t *testing.T) {
	const rounds = 300
	m := mountRig(t, Options{}, MountOptions{}, files{"d/k": []byte("v0")})
	stop := make(chan struct{})
	done := make(chan struct{})
	for range 2 {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
					os.Stat(m.path("d/k"))
				}
			}
		}()
	}
	defer func() {
		close(stop)
		<-done
		<-done
	}()
	for i := 1; i <= rounds; i++ {
		mustUpdate(t, m.root, files{"d/k": fmt.Appendf(nil, "v%d", i)}.tree(m.c, ""))
		want := m.root.snapshot().dirs["d"].kids["k"].file.ino
		if st := stat(t, m.path("d/k")); st.Ino != want {
			t.Fatalf("round %d: stat shows inode %d, the update installed %d", i, st.Ino, want)
		}
	}
}

// TestMountLookupRacingUpdate holds a LOOKUP after it loaded the snapshot,
// installs a newer tree meanwhile, then lets the LOOKUP finish: the kernel
// must not keep the stale answer (file entries are cached for an hour).
func TestMountLookupRacingUpdate(t *testing.T) {
	requireFUSE(t)
	c := newFakeContent()
	r := NewRoot(c, Options{})
	started, release := make(chan struct{}), make(chan struct{})
	var hold atomic.Bool
	r.lookupHook = func(dir, name string) {
		if dir == "d" && name == "k" && hold.CompareAndSwap(true, false) {
			close(started)
			<-release
		}
	}
	mustUpdate(t, r, files{"d/k": []byte("v1")}.tree(c, "g1"))
	dir := t.TempDir()
	srv, err := Mount(dir, r, MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer unmount(t, srv)
	p := filepath.Join(dir, "d/k")
	stat(t, p)
	mustUpdate(t, r, files{"d/k": []byte("v2")}.tree(c, "g2")) // invalidates d/k

	hold.Store(true)
	looked := make(chan error, 1)
	go func() { _, err := os.Stat(p); looked <- err }()
	<-started // a LOOKUP holds the g2 snapshot
	updated := make(chan error, 1)
	go func() { updated <- r.Update(files{"d/k": []byte("v3")}.tree(c, "g3")) }()
	for r.Generation() != "g3" {
		runtime.Gosched() // wait for the swap; the notifications may wait for the LOOKUP
	}
	close(release)
	if err := <-looked; err != nil {
		t.Fatal(err)
	}
	if err := <-updated; err != nil {
		t.Fatal(err)
	}
	want := r.snapshot().dirs["d"].kids["k"].file.ino
	if st := stat(t, p); st.Ino != want {
		t.Errorf("stat shows inode %d after the update installed %d", st.Ino, want)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "v3" {
		t.Errorf("read %q, %v; want v3", b, err)
	}
}
