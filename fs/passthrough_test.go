package fs

import (
	"bytes"
	"log/slog"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// backerRig is a rig whose content is a fakeBacker, with Passthrough as given.
func backerRig(t *testing.T, passthrough bool) (*rig, *fakeBacker) {
	t.Helper()
	var b *fakeBacker
	g := newRigWith(t, Options{Passthrough: passthrough}, func(c *fakeContent) Content {
		b = newFakeBacker(t, c)
		return b
	})
	t.Cleanup(func() { b.check(t) })
	return g, b
}

func (g *rig) release(node, fh uint64) {
	g.raw.Release(nil, &fuse.ReleaseIn{InHeader: fuse.InHeader{NodeId: node}, Fh: fh})
}

// isPassthrough reports whether open flags are those of a passthrough
// handle (without a kernel go-fuse adds nothing to them).
func isPassthrough(t *testing.T, o fuse.OpenOut) bool {
	t.Helper()
	switch o.OpenFlags {
	case fuse.FOPEN_NOFLUSH:
		return true
	case fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_NOFLUSH:
		return false
	}
	t.Fatalf("unexpected open flags %#x", o.OpenFlags)
	return false
}

func TestPassthroughModes(t *testing.T) {
	g, b := backerRig(t, true)
	content := randBytes(60, 200_000)
	mustUpdate(t, g.root, files{"f": content}.tree(g.c, ""))
	e := g.mustLookup("f")
	open := func(wantPassthrough bool) uint64 {
		t.Helper()
		o, st := g.open(e.NodeId, syscall.O_RDONLY)
		if !st.Ok() {
			t.Fatalf("open: %v", st)
		}
		if got := isPassthrough(t, o); got != wantPassthrough {
			t.Fatalf("open: passthrough %v, want %v", got, wantPassthrough)
		}
		return o.Fh
	}
	wantCounts := func(backings, granted, releases int) {
		t.Helper()
		if b1, g1, r1 := b.counts(); b1 != backings || g1 != granted || r1 != releases {
			t.Fatalf("backer: %d Backing calls, %d ok, %d releases; want %d %d %d", b1, g1, r1, backings, granted, releases)
		}
	}

	// No handle open, Backing ok: passthrough. Every later open while one
	// is open is passthrough too, sharing the inode's Backing, which is
	// released with the last of them.
	a := open(true)
	p := open(true)
	wantCounts(1, 1, 0)
	g.release(e.NodeId, a)
	wantCounts(1, 1, 0)
	g.release(e.NodeId, p)
	wantCounts(1, 1, 1)

	// Nothing open, Backing fails: caching. While it is open, even with
	// Backing ok again, new opens are caching and Backing is not asked.
	b.setOK(false)
	c1 := open(false)
	b.setOK(true)
	c2 := open(false)
	wantCounts(2, 1, 1)
	if got, st := g.read(nil, e.NodeId, c2, 0, 100); !st.Ok() || !bytes.Equal(got, content[:100]) {
		t.Fatalf("caching read: %v", st)
	}
	g.release(e.NodeId, c1)
	open3 := open(false)
	g.release(e.NodeId, c2)
	g.release(e.NodeId, open3)
	wantCounts(2, 1, 1)

	// All caching handles closed: passthrough again.
	x := open(true)
	wantCounts(3, 2, 1)
	// Without a kernel go-fuse cannot register the backing file and the
	// handle must still read, from Content; that is logged once, and from
	// then on new passthrough episodes are not attempted.
	for range 2 {
		if got, st := g.read(nil, e.NodeId, x, 1000, 5000); !st.Ok() || !bytes.Equal(got, content[1000:6000]) {
			t.Fatalf("fallback read: %v", st)
		}
	}
	if n := g.logs.count(slog.LevelWarn); n != 1 {
		t.Errorf("%d warnings for fallback reads, want 1", n)
	}
	y := open(true) // beside x: the same mode
	g.release(e.NodeId, x)
	g.release(e.NodeId, y)
	wantCounts(3, 2, 2)
	z := open(false)
	g.release(e.NodeId, z)
	wantCounts(3, 2, 2)

	if s := g.root.Stats(); s.Opens != 8 || s.PassthroughOpens != 4 {
		t.Errorf("stats: %d opens, %d passthrough; want 8, 4", s.Opens, s.PassthroughOpens)
	}
}

func TestPassthroughNotAsked(t *testing.T) {
	for _, tc := range []struct {
		name        string
		passthrough bool
		file        []byte
		flags       uint32
		want        fuse.Status
	}{
		{"passthrough off", false, randBytes(61, 5000), syscall.O_RDONLY, fuse.OK},
		{"empty file", true, nil, syscall.O_RDONLY, fuse.OK},
		{"write open", true, randBytes(62, 5000), syscall.O_RDWR, fuse.EROFS},
		{"truncating open", true, randBytes(63, 5000), syscall.O_RDONLY | syscall.O_TRUNC, fuse.EROFS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, b := backerRig(t, tc.passthrough)
			mustUpdate(t, g.root, files{"f": tc.file}.tree(g.c, ""))
			e := g.mustLookup("f")
			o, st := g.open(e.NodeId, tc.flags)
			if st != tc.want {
				t.Fatalf("open: %v, want %v", st, tc.want)
			}
			if st.Ok() && isPassthrough(t, o) {
				t.Errorf("passthrough handle")
			}
			if n, _, _ := b.counts(); n != 0 {
				t.Errorf("Backing called %d times", n)
			}
		})
	}
}

// A Content that is not a Backer is served as before with Passthrough on.
func TestPassthroughWithoutBacker(t *testing.T) {
	g := newRig(t, Options{Passthrough: true})
	content := randBytes(64, 10_000)
	mustUpdate(t, g.root, files{"f": content}.tree(g.c, ""))
	e := g.mustLookup("f")
	o, st := g.open(e.NodeId, syscall.O_RDONLY)
	if !st.Ok() || isPassthrough(t, o) {
		t.Fatalf("open: %v, flags %#x", st, o.OpenFlags)
	}
	if got, st := g.read(nil, e.NodeId, o.Fh, 0, len(content)); !st.Ok() || !bytes.Equal(got, content) {
		t.Fatalf("read: %v", st)
	}
	g.release(e.NodeId, o.Fh)
	if s := g.root.Stats(); s.PassthroughOpens != 0 {
		t.Errorf("%d passthrough opens", s.PassthroughOpens)
	}
}
