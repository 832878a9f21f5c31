package fs

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/bootfs/bootfs/internal/testskip"
)

// requireRoot skips a test that needs CAP_SYS_ADMIN (FUSE passthrough).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testskip.Skip(t, "FUSE passthrough needs CAP_SYS_ADMIN; not running as root")
	}
}

// mountBacker mounts tree with Passthrough on (or off) over a fakeBacker.
func mountBacker(t *testing.T, passthrough bool, tree files) (*mounted, *fakeBacker) {
	t.Helper()
	var b *fakeBacker
	m := mountRigWith(t, Options{Passthrough: passthrough}, MountOptions{}, tree, func(c *fakeContent) Content {
		b = newFakeBacker(t, c)
		return b
	})
	t.Cleanup(func() { b.check(t) })
	return m, b
}

// waitReleased waits until every descriptor the backer granted was released
// (the kernel sends RELEASE asynchronously after close(2)).
func (b *fakeBacker) waitReleased(t *testing.T) {
	t.Helper()
	testpoll.Until(t, time.Minute, "every backing file to be released", func() bool {
		_, granted, releases := b.counts()
		return granted == releases
	})
}

// fileNodeAt returns the fileNode go-fuse holds for the file name in the root.
func (m *mounted) fileNodeAt(t *testing.T, name string) *fileNode {
	t.Helper()
	c := m.root.GetChild(name)
	if c == nil {
		t.Fatalf("%s not in go-fuse's tree", name)
	}
	return c.Operations().(*fileNode)
}

// openCounts returns n's open caching and passthrough handles.
func (n *fileNode) openCounts() (caching, passthrough int) {
	n.openMu.Lock()
	defer n.openMu.Unlock()
	return n.caching, n.passthrough
}

// readAll checks that f (at offset 0) reads exactly want through read(2),
// pread(2), sendfile(2) and mmap(2).
func readAll(t *testing.T, f *os.File, want []byte) {
	t.Helper()
	if got, err := io.ReadAll(f); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %s: %d bytes, err %v; want %d bytes", f.Name(), len(got), err, len(want))
	}
	for _, off := range []int64{0, 1, 4097, int64(len(want)) / 2, int64(len(want)) - 3} {
		if off >= int64(len(want)) {
			continue
		}
		buf := make([]byte, 100_000)
		n, err := f.ReadAt(buf, off)
		if w := want[off:min(off+int64(len(buf)), int64(len(want)))]; !bytes.Equal(buf[:n], w) || (err != nil && !errors.Is(err, io.EOF)) {
			t.Fatalf("pread %s at %d: %d bytes, err %v", f.Name(), off, n, err)
		}
	}
	out, err := os.Create(filepath.Join(t.TempDir(), "sendfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var off int64
	for off < int64(len(want)) {
		n, err := unix.Sendfile(int(out.Fd()), int(f.Fd()), &off, len(want)-int(off))
		if err != nil || n == 0 {
			t.Fatalf("sendfile %s at %d: %d, %v", f.Name(), off, n, err)
		}
	}
	if got, err := os.ReadFile(out.Name()); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("sendfile %s: %d bytes differ, err %v", f.Name(), len(got), err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, len(want), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap %s: %v", f.Name(), err)
	}
	defer unix.Munmap(mem)
	if !bytes.Equal(mem, want) {
		t.Fatalf("mmap %s: bytes differ", f.Name())
	}
}

// open opens p for reading; the file is closed (again) before the mount's
// cleanup unmounts, even if the test fails while it is open.
func open(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestMountPassthroughReadsBackingFile(t *testing.T) {
	requireRoot(t)
	kernel, small := randBytes(70, 5<<20+123), randBytes(71, 1000)
	m, b := mountBacker(t, true, files{"kernel": kernel, "small": small, "empty": nil})

	for name, want := range map[string][]byte{"kernel": kernel, "small": small} {
		f := open(t, m.path(name))
		f2 := open(t, m.path(name)) // a second passthrough handle of the inode
		readAll(t, f, want)
		readAll(t, f2, want)
		f.Close()
		f2.Close()
		if n := m.c.callsFor(digest.Of(want)); n != 0 {
			t.Errorf("%s: Content.ReadAt called %d times; the kernel did not pass through", name, n)
		}
	}
	if b, err := os.ReadFile(m.path("empty")); err != nil || len(b) != 0 {
		t.Errorf("empty: %d bytes, %v", len(b), err)
	}
	b.waitReleased(t)
	// One Backing per file, shared by its two handles.
	if backings, granted, releases := b.counts(); backings != 2 || granted != 2 || releases != 2 {
		t.Errorf("backer: %d Backing calls, %d ok, %d releases; want 2 each", backings, granted, releases)
	}
	if s := m.root.Stats(); s.Opens != 5 || s.PassthroughOpens != 4 || s.Reads != 0 {
		t.Errorf("stats: %d opens, %d passthrough, %d reads; want 5, 4, 0", s.Opens, s.PassthroughOpens, s.Reads)
	}
	if n := m.logs.count(slog.LevelWarn); n != 0 {
		t.Errorf("%d warnings or errors logged", n)
	}
}

func TestMountPassthroughFollowsOpenMode(t *testing.T) {
	requireRoot(t)
	content := randBytes(72, 3<<20+5)
	d := digest.Of(content)
	m, b := mountBacker(t, true, files{"f": content})

	// A opens while the file is not wholly cached: caching mode.
	b.setOK(false)
	fa := open(t, m.path("f"))
	if n, _, _ := b.counts(); n != 1 {
		t.Fatalf("%d Backing calls, want 1", n)
	}
	// Now it is, but A is open in caching mode: B must be too (a
	// passthrough open would fail in the kernel).
	b.setOK(true)
	fb := open(t, m.path("f"))
	readAll(t, fa, content)
	readAll(t, fb, content)
	node := m.fileNodeAt(t, "f")
	if backings, granted, _ := b.counts(); backings != 1 || granted != 0 {
		t.Fatalf("%d Backing calls, %d ok; want 1, 0", backings, granted)
	}
	if c, p := node.openCounts(); c != 2 || p != 0 {
		t.Fatalf("%d caching and %d passthrough handles, want 2, 0", c, p)
	}
	if m.c.callsFor(d) == 0 {
		t.Fatal("caching-mode reads did not reach Content")
	}
	fa.Close()
	fb.Close()
	testpoll.Until(t, time.Minute, "both caching handles to be released", func() bool {
		c, p := node.openCounts()
		return c == 0 && p == 0
	})

	// All closed: C passes through, and reads nothing from Content (the
	// page cache filled by A and B is dropped at this open).
	reads := m.c.callsFor(d)
	fc := open(t, m.path("f"))
	readAll(t, fc, content)
	if backings, granted, _ := b.counts(); backings != 2 || granted != 1 {
		t.Fatalf("%d Backing calls, %d ok; want 2, 1", backings, granted)
	}
	if n := m.c.callsFor(d); n != reads {
		t.Errorf("passthrough open read Content %d times", n-reads)
	}

	// While C is open, another open shares C's Backing, even when Backing
	// would now say no (say, a block of the file was just evicted): the
	// bytes the kernel reads stay pinned by C's.
	b.setOK(false)
	fd := open(t, m.path("f"))
	readAll(t, fd, content)
	fc.Close()
	if backings, _, _ := b.counts(); backings != 2 {
		t.Errorf("%d Backing calls, want 2 (the second passthrough open shares the first's)", backings)
	}
	fd.Close()
	b.waitReleased(t)
	if _, _, releases := b.counts(); releases != 1 {
		t.Errorf("%d releases, want 1", releases)
	}
	if n := m.c.callsFor(d); n != reads {
		t.Errorf("passthrough opens read Content %d times", n-reads)
	}
	if s := m.root.Stats(); s.Opens != 4 || s.PassthroughOpens != 2 {
		t.Errorf("stats: %d opens, %d passthrough; want 4, 2", s.Opens, s.PassthroughOpens)
	}
	if n := m.logs.count(slog.LevelWarn); n != 0 {
		t.Errorf("%d warnings or errors logged", n)
	}
}

func TestMountPassthroughOff(t *testing.T) {
	content := randBytes(73, 300_000)
	m, b := mountBacker(t, false, files{"f": content})
	f := open(t, m.path("f"))
	readAll(t, f, content)
	if n, _, _ := b.counts(); n != 0 {
		t.Errorf("Backing called %d times with Passthrough off", n)
	}
	if m.c.callsFor(digest.Of(content)) == 0 || m.root.Stats().PassthroughOpens != 0 {
		t.Errorf("reads did not go through Content")
	}
}

// Concurrent opens and closes of one inode all pass through: go-fuse's
// shared backing registration comes and goes under them.
func TestMountPassthroughConcurrentOpens(t *testing.T) {
	requireRoot(t)
	content := randBytes(74, 256<<10)
	m, b := mountBacker(t, true, files{"f": content})
	const workers, opens = 4, 25
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for range opens {
				got, err := os.ReadFile(m.path("f"))
				if err == nil && !bytes.Equal(got, content) {
					err = errors.New("bytes differ")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	b.waitReleased(t)
	if _, granted, _ := b.counts(); granted == 0 || granted > workers*opens {
		t.Errorf("%d backing files granted, want 1..%d (one per passthrough episode)", granted, workers*opens)
	}
	if n := m.c.callsFor(digest.Of(content)); n != 0 {
		t.Errorf("Content.ReadAt called %d times", n)
	}
}
