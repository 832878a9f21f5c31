package fs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

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

	bad := files{"../x": []byte("x"), kernelPath: v2, "keep": []byte("keep")}.tree(m.c, "bad")
	if err := m.root.Update(bad); err != nil {
		t.Fatalf("tree with a bad entry: %v", err)
	}
	if got, err := os.ReadFile(m.path(kernelPath)); err != nil || !bytes.Equal(got, v2) {
		t.Errorf("after a tree with a bad entry: %d bytes, %v", len(got), err)
	}
	if sk := m.root.Skipped(); len(sk) != 1 || sk[0].Path != "../x" {
		t.Errorf("Skipped = %+v", sk)
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
