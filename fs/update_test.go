package fs

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

func TestUpdateKeepsOpenFilesAndInodes(t *testing.T) {
	g := newRig(t, Options{})
	v1, v2 := randBytes(3, 200_000), randBytes(4, 150_000)
	mustUpdate(t, g.root, files{"k": v1, "same": []byte("same")}.tree(g.c, "g1"))
	old := g.mustLookup("k")
	same := g.mustLookup("same")
	o, st := g.open(old.NodeId, syscall.O_RDONLY)
	if !st.Ok() {
		t.Fatal(st)
	}

	mustUpdate(t, g.root, files{"k": v2, "same": []byte("same")}.tree(g.c, "g2"))
	if got, _ := g.read(nil, old.NodeId, o.Fh, 0, len(v1)+10); !bytes.Equal(got, v1) {
		t.Error("a handle opened before the update does not read the old bytes")
	}
	cur := g.mustLookup("k")
	if cur.NodeId == old.NodeId || cur.Ino == old.Ino || cur.Size != uint64(len(v2)) {
		t.Errorf("changed file: node %d->%d ino %d->%d size %d", old.NodeId, cur.NodeId, old.Ino, cur.Ino, cur.Size)
	}
	if got := g.readFile("k", len(v2)+10); !bytes.Equal(got, v2) {
		t.Error("a new open does not read the new bytes")
	}
	if s2 := g.mustLookup("same"); s2.NodeId != same.NodeId || s2.Ino != same.Ino {
		t.Errorf("unchanged file changed node %d->%d ino %d->%d", same.NodeId, s2.NodeId, same.Ino, s2.Ino)
	}
	if g.root.Generation() != "g2" {
		t.Errorf("generation %q", g.root.Generation())
	}
}

func TestUpdateNotifiesChangedNames(t *testing.T) {
	g := newRig(t, Options{})
	mustUpdate(t, g.root, files{
		"a/x": []byte("x1"), "a/y": []byte("y"), "b/z": []byte("z"), "c/w": []byte("w"), "top": []byte("t"),
	}.tree(g.c, ""))
	a := g.mustLookup("a")
	g.mustLookup("a/x")
	g.mustLookup("a/y")
	g.mustLookup("b/z")
	if _, st := g.lookup("a/new"); st != fuse.ENOENT {
		t.Fatalf("a/new: %v", st)
	}
	g.rec.take()
	before := g.root.Stats().Notifications

	// c is unknown to the "kernel" (never looked up): its change needs no notice.
	mustUpdate(t, g.root, files{
		"a/x": []byte("x2"), "a/y": []byte("y"), "a/new": []byte("n"), "c/w": []byte("w2"), "top": []byte("t"),
	}.tree(g.c, ""))
	var got []string
	for _, n := range g.rec.take() {
		got = append(got, fmt.Sprintf("%s %d %s %d", n.kind, n.node, n.name, n.offset))
	}
	slices.Sort(got)
	want := []string{
		fmt.Sprintf("entry %d new 0", a.NodeId),
		fmt.Sprintf("entry %d x 0", a.NodeId),
		"entry 1 b 0",
		fmt.Sprintf("inode %d  -1", a.NodeId),
		"inode 1  -1",
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("notices:\n got %q\nwant %q", got, want)
	}
	if s := g.root.Stats(); s.Notifications-before != uint64(len(want)) || s.NotifyFailures != 0 || s.Updates != 2 {
		t.Errorf("stats %+v", s)
	}
	if _, st := g.lookup("b/z"); st != fuse.ENOENT {
		t.Errorf("removed b/z: %v", st)
	}
	if b := g.readFile("a/new", 10); string(b) != "n" {
		t.Errorf("a/new = %q", b)
	}

	// An identical tree changes nothing and tells nothing.
	mustUpdate(t, g.root, files{
		"a/x": []byte("x2"), "a/y": []byte("y"), "a/new": []byte("n"), "c/w": []byte("w2"), "top": []byte("t"),
	}.tree(g.c, ""))
	if n := g.rec.take(); len(n) != 0 {
		t.Errorf("identical tree sent %v", n)
	}
}

func TestUpdateSkipsBadEntries(t *testing.T) {
	g := newRig(t, Options{})
	mustUpdate(t, g.root, files{"a": []byte("1")}.tree(g.c, "good"))
	g.rec.take()
	bad := files{"b": []byte("2"), "../escape": []byte("3")}.tree(g.c, "bad")
	if err := g.root.Update(bad); err != nil {
		t.Fatalf("Update: %v", err)
	}
	sk := g.root.Skipped()
	if len(sk) != 1 || sk[0].Path != "../escape" || !errors.Is(sk[0].Reason, ErrInvalidTree) {
		t.Fatalf("Skipped = %+v", sk)
	}
	if g.root.Generation() != "bad" || string(g.readFile("b", 10)) != "2" {
		t.Error("the valid part of the tree was not applied")
	}
	if _, st := g.lookup("a"); st != fuse.ENOENT {
		t.Errorf("a from the old tree: %v", st)
	}
	if _, st := g.lookup(".."); st == 0 {
		t.Error("lookup .. succeeded")
	}
	mustUpdate(t, g.root, files{"c": []byte("3")}.tree(g.c, "later"))
	if len(g.root.Skipped()) != 0 || string(g.readFile("c", 10)) != "3" {
		t.Errorf("later good tree: skipped %+v", g.root.Skipped())
	}
	if err := g.root.Update(nil); !errors.Is(err, ErrInvalidTree) {
		t.Errorf("nil tree: %v", err)
	}
}

func TestUpdateBeforeAdoption(t *testing.T) {
	c := newFakeContent()
	r := NewRoot(c, Options{})
	mustUpdate(t, r, files{"a/b": []byte("1")}.tree(c, "g1"))
	mustUpdate(t, r, files{"a/c": []byte("2")}.tree(c, "g2"))
	raw := gofs.NewNodeFS(r, r.nodeFSOptions())
	var out fuse.EntryOut
	if st := raw.Lookup(nil, &fuse.InHeader{NodeId: 1}, "a", &out); !st.Ok() || out.NodeId == 0 {
		t.Fatalf("lookup a: %v", st)
	}
	// Adopted without a kernel connection: notifications report ENOSYS,
	// which is not a failure.
	mustUpdate(t, r, files{"x": []byte("3")}.tree(c, "g3"))
	if s := r.Stats(); s.NotifyFailures != 0 || s.Updates != 3 {
		t.Errorf("stats %+v", s)
	}
}
