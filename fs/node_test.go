package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// notice is one kernel notification a recorder received.
type notice struct {
	kind   string // "entry", "delete", "inode"
	node   uint64 // parent for entry/delete, the node for inode
	name   string
	offset int64
}

// recorder stands in for the kernel's notification channel.
type recorder struct {
	mu      sync.Mutex // guards notices
	notices []notice
}

func (r *recorder) add(n notice) fuse.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, n)
	return fuse.OK
}

func (r *recorder) take() []notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.notices
	r.notices = nil
	return n
}

func (r *recorder) EntryNotify(parent uint64, name string) fuse.Status {
	return r.add(notice{kind: "entry", node: parent, name: name})
}
func (r *recorder) DeleteNotify(parent, child uint64, name string) fuse.Status {
	return r.add(notice{kind: "delete", node: parent, name: name})
}
func (r *recorder) InodeNotify(node uint64, off, length int64) fuse.Status {
	return r.add(notice{kind: "inode", node: node, offset: off})
}
func (r *recorder) InodeRetrieveCache(uint64, int64, []byte) (int, fuse.Status) {
	return 0, fuse.ENOSYS
}
func (r *recorder) InodeNotifyStoreCache(uint64, int64, []byte) fuse.Status { return fuse.ENOSYS }

// rig is a Root adopted by go-fuse without a kernel: requests are made by
// calling the raw file system the way the FUSE server would.
type rig struct {
	t    *testing.T
	root *Root
	raw  fuse.RawFileSystem
	rec  *recorder
	c    *fakeContent
	logs *logRecorder
}

func newRig(t *testing.T, o Options) *rig {
	t.Helper()
	g := &rig{t: t, rec: &recorder{}, c: newFakeContent(), logs: &logRecorder{}}
	o.Log = slog.New(g.logs)
	g.root = NewRoot(g.c, o)
	opts := g.root.nodeFSOptions()
	opts.ServerCallbacks = g.rec
	g.raw = gofs.NewNodeFS(g.root, opts)
	return g
}

// lookup resolves path and returns the last EntryOut and the status.
func (g *rig) lookup(path string) (fuse.EntryOut, fuse.Status) {
	var out fuse.EntryOut
	node := uint64(1)
	for _, name := range strings.Split(path, "/") {
		out = fuse.EntryOut{}
		st := g.raw.Lookup(nil, &fuse.InHeader{NodeId: node}, name, &out)
		if !st.Ok() {
			return out, st
		}
		if out.NodeId == 0 {
			return out, fuse.ENOENT // a cached negative entry
		}
		node = out.NodeId
	}
	return out, fuse.OK
}

func (g *rig) mustLookup(path string) fuse.EntryOut {
	g.t.Helper()
	out, st := g.lookup(path)
	if !st.Ok() {
		g.t.Fatalf("lookup %s: %v", path, st)
	}
	return out
}

func (g *rig) open(node uint64, flags uint32) (fuse.OpenOut, fuse.Status) {
	var out fuse.OpenOut
	st := g.raw.Open(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: node}, Flags: flags}, &out)
	return out, st
}

func (g *rig) read(cancel <-chan struct{}, node, fh uint64, off int64, n int) ([]byte, fuse.Status) {
	buf := make([]byte, n)
	res, st := g.raw.Read(cancel, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: node}, Fh: fh, Offset: uint64(off), Size: uint32(n)}, buf)
	if !st.Ok() {
		return nil, st
	}
	b, st := res.Bytes(buf)
	return slices.Clone(b), st
}

// readFile looks up, opens and reads a whole file of at most max bytes.
func (g *rig) readFile(path string, max int) []byte {
	g.t.Helper()
	e := g.mustLookup(path)
	o, st := g.open(e.NodeId, syscall.O_RDONLY)
	if !st.Ok() {
		g.t.Fatalf("open %s: %v", path, st)
	}
	b, st := g.read(nil, e.NodeId, o.Fh, 0, max)
	if !st.Ok() {
		g.t.Fatalf("read %s: %v", path, st)
	}
	return b
}

func TestLookupAttributesAndTimeouts(t *testing.T) {
	g := newRig(t, Options{})
	kernel := randBytes(1, 300_000)
	mustUpdate(t, g.root, files{"ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel": kernel}.tree(g.c, "g1"))

	dir := g.mustLookup("ubuntu/amd64")
	if dir.Mode != fuse.S_IFDIR|0o555 || dir.Nlink != 3 || dir.EntryTimeout() != time.Second || dir.AttrTimeout() != time.Second {
		t.Errorf("dir: mode %o nlink %d timeouts %v/%v", dir.Mode, dir.Nlink, dir.EntryTimeout(), dir.AttrTimeout())
	}
	f := g.mustLookup("ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel")
	tf := g.root.snapshot().dirs["ubuntu/amd64/ga-22.04/jammy/stable"].kids["boot-kernel"].file
	if f.Mode != fuse.S_IFREG|0o444 || f.Size != uint64(len(kernel)) || f.Nlink != 1 || f.Uid != 0 || f.Gid != 0 {
		t.Errorf("file attrs: %+v", f.Attr)
	}
	if f.Ino != tf.ino || f.Mtime != tf.mtime || f.Blocks != (uint64(len(kernel))+511)/512 {
		t.Errorf("file ino %d mtime %d blocks %d; want %d %d", f.Ino, f.Mtime, f.Blocks, tf.ino, tf.mtime)
	}
	if f.EntryTimeout() != time.Hour || f.AttrTimeout() != time.Hour {
		t.Errorf("file timeouts %v/%v, want 1h", f.EntryTimeout(), f.AttrTimeout())
	}

	var ga fuse.AttrOut
	if st := g.raw.GetAttr(nil, &fuse.GetAttrIn{InHeader: fuse.InHeader{NodeId: 1}}, &ga); !st.Ok() {
		t.Fatal(st)
	}
	if ga.Ino != 1 || ga.Mode != fuse.S_IFDIR|0o555 || ga.Nlink != 3 || ga.Timeout() != time.Second {
		t.Errorf("root attrs: ino %d mode %o nlink %d timeout %v", ga.Ino, ga.Mode, ga.Nlink, ga.Timeout())
	}
}

func TestCustomAndDisabledTimeouts(t *testing.T) {
	g := newRig(t, Options{EntryTimeout: 5 * time.Minute, AttrTimeout: -1, DirTimeout: -1, NegativeTimeout: -1})
	mustUpdate(t, g.root, files{"d/f": []byte("x")}.tree(g.c, ""))
	if d := g.mustLookup("d"); d.EntryTimeout() != 0 || d.AttrTimeout() != 0 {
		t.Errorf("dir timeouts %v/%v, want 0", d.EntryTimeout(), d.AttrTimeout())
	}
	if f := g.mustLookup("d/f"); f.EntryTimeout() != 5*time.Minute || f.AttrTimeout() != 0 {
		t.Errorf("file timeouts %v/%v", f.EntryTimeout(), f.AttrTimeout())
	}
	// Without a negative timeout the kernel gets a plain, uncached ENOENT.
	var out fuse.EntryOut
	if st := g.raw.Lookup(nil, &fuse.InHeader{NodeId: 1}, "missing", &out); st != fuse.ENOENT {
		t.Errorf("lookup missing = %v, want ENOENT", st)
	}
}

func TestNegativeLookup(t *testing.T) {
	g := newRig(t, Options{})
	mustUpdate(t, g.root, files{"a": []byte("x")}.tree(g.c, ""))
	var out fuse.EntryOut
	st := g.raw.Lookup(nil, &fuse.InHeader{NodeId: 1}, "pxelinux.cfg", &out)
	// A cacheable negative entry: OK with node id 0.
	if !st.Ok() || out.NodeId != 0 || out.EntryTimeout() != DefaultNegativeTimeout {
		t.Errorf("negative lookup: status %v node %d timeout %v", st, out.NodeId, out.EntryTimeout())
	}
	if s := g.root.Stats(); s.Lookups != 1 || s.NegativeLookups != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestReadAtOffsets(t *testing.T) {
	g := newRig(t, Options{})
	big := randBytes(2, 3<<20+17)
	mustUpdate(t, g.root, files{"big": big, "empty": nil}.tree(g.c, ""))
	e := g.mustLookup("big")
	o, st := g.open(e.NodeId, syscall.O_RDONLY)
	if !st.Ok() {
		t.Fatal(st)
	}
	if o.OpenFlags&fuse.FOPEN_KEEP_CACHE == 0 || o.OpenFlags&fuse.FOPEN_NOFLUSH == 0 {
		t.Errorf("open flags %#x lack KEEP_CACHE|NOFLUSH", o.OpenFlags)
	}
	for _, tc := range []struct {
		off int64
		n   int
	}{{0, 4096}, {1, 7}, {1<<20 - 3, 1 << 17}, {int64(len(big)) - 5, 4096}, {int64(len(big)), 10}, {int64(len(big)) + 100, 10}} {
		got, st := g.read(nil, e.NodeId, o.Fh, tc.off, tc.n)
		if !st.Ok() {
			t.Fatalf("read %d+%d: %v", tc.off, tc.n, st)
		}
		want := big[min(tc.off, int64(len(big))):min(tc.off+int64(tc.n), int64(len(big)))]
		if !bytes.Equal(got, want) {
			t.Errorf("read %d+%d: %d bytes differ from the %d expected", tc.off, tc.n, len(got), len(want))
		}
	}
	if b := g.readFile("empty", 100); len(b) != 0 {
		t.Errorf("empty file read %d bytes", len(b))
	}
	if s := g.root.Stats(); s.Opens != 2 || s.ReadBytes != uint64(4096+7+1<<17+5) {
		t.Errorf("stats %+v", s)
	}
}

func TestMutationsRefused(t *testing.T) {
	g := newRig(t, Options{})
	mustUpdate(t, g.root, files{"d/f": []byte("x")}.tree(g.c, ""))
	d := g.mustLookup("d")
	f := g.mustLookup("d/f")
	in := func(n uint64) fuse.InHeader { return fuse.InHeader{NodeId: n} }
	var eo fuse.EntryOut
	var co fuse.CreateOut
	var ao fuse.AttrOut
	ops := map[string]func() fuse.Status{
		"mkdir": func() fuse.Status {
			return g.raw.Mkdir(nil, &fuse.MkdirIn{InHeader: in(d.NodeId), Mode: 0o755}, "x", &eo)
		},
		"mknod": func() fuse.Status {
			return g.raw.Mknod(nil, &fuse.MknodIn{InHeader: in(d.NodeId), Mode: 0o644}, "x", &eo)
		},
		"create": func() fuse.Status {
			return g.raw.Create(nil, &fuse.CreateIn{InHeader: in(d.NodeId), Mode: 0o644}, "x", &co)
		},
		"symlink": func() fuse.Status {
			return g.raw.Symlink(nil, &fuse.InHeader{NodeId: d.NodeId}, "f", "x", &eo)
		},
		"link": func() fuse.Status {
			return g.raw.Link(nil, &fuse.LinkIn{InHeader: in(d.NodeId), Oldnodeid: f.NodeId}, "x", &eo)
		},
		"unlink": func() fuse.Status { return g.raw.Unlink(nil, &fuse.InHeader{NodeId: d.NodeId}, "f") },
		"rmdir":  func() fuse.Status { return g.raw.Rmdir(nil, &fuse.InHeader{NodeId: 1}, "d") },
		"rename": func() fuse.Status {
			return g.raw.Rename(nil, &fuse.RenameIn{InHeader: in(d.NodeId), Newdir: 1}, "f", "g")
		},
		"setattr file": func() fuse.Status {
			return g.raw.SetAttr(nil, &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{InHeader: in(f.NodeId), Valid: fuse.FATTR_MODE, Mode: 0o777}}, &ao)
		},
		"setattr dir": func() fuse.Status {
			return g.raw.SetAttr(nil, &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{InHeader: in(d.NodeId), Valid: fuse.FATTR_MODE, Mode: 0o777}}, &ao)
		},
		"setxattr": func() fuse.Status {
			return g.raw.SetXAttr(nil, &fuse.SetXAttrIn{InHeader: in(f.NodeId)}, "user.x", []byte("1"))
		},
		"removexattr": func() fuse.Status { return g.raw.RemoveXAttr(nil, &fuse.InHeader{NodeId: 1}, "user.x") },
		"open wronly": func() fuse.Status { _, st := g.open(f.NodeId, syscall.O_WRONLY); return st },
		"open rdwr":   func() fuse.Status { _, st := g.open(f.NodeId, syscall.O_RDWR); return st },
		"open trunc":  func() fuse.Status { _, st := g.open(f.NodeId, syscall.O_RDONLY|syscall.O_TRUNC); return st },
	}
	for name, op := range ops {
		if st := op(); st != fuse.Status(syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", name, st)
		}
	}
	if b := g.readFile("d/f", 10); string(b) != "x" {
		t.Errorf("d/f = %q after refused mutations", b)
	}
	if g.root.GetChild("d") == nil || g.root.GetChild("d").GetChild("f") == nil {
		t.Error("a refused unlink/rmdir removed a node from go-fuse's tree")
	}
}

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

func TestBadUpdateKeepsTree(t *testing.T) {
	g := newRig(t, Options{})
	mustUpdate(t, g.root, files{"a": []byte("1")}.tree(g.c, "good"))
	g.rec.take()
	bad := files{"b": []byte("2"), "../escape": []byte("3")}.tree(g.c, "bad")
	err := g.root.Update(bad)
	if !errors.Is(err, ErrInvalidTree) || !strings.Contains(err.Error(), "../escape") {
		t.Fatalf("err = %v", err)
	}
	if g.root.Generation() != "good" || string(g.readFile("a", 10)) != "1" {
		t.Error("a refused tree replaced the old one")
	}
	if _, st := g.lookup("b"); st != fuse.ENOENT {
		t.Errorf("b from the refused tree: %v", st)
	}
	if n := g.rec.take(); len(n) != 0 {
		t.Errorf("refused tree sent %v", n)
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

func TestReaddir(t *testing.T) {
	g := newRig(t, Options{})
	mustUpdate(t, g.root, files{"b": []byte("1"), "a/x": []byte("2"), "c": []byte("3")}.tree(g.c, ""))
	ds, errno := g.root.Readdir(context.Background())
	if errno != 0 {
		t.Fatal(errno)
	}
	tr := g.root.snapshot()
	var got []string
	for ds.HasNext() {
		e, errno := ds.Next()
		if errno != 0 {
			t.Fatal(errno)
		}
		got = append(got, fmt.Sprintf("%s %o", e.Name, e.Mode))
		c := tr.dirs[""].kids[e.Name]
		if (c.dir != nil && e.Ino != c.dir.ino) || (c.file != nil && e.Ino != c.file.ino) {
			t.Errorf("%s: ino %d", e.Name, e.Ino)
		}
	}
	if want := []string{"a 40000", "b 100000", "c 100000"}; !slices.Equal(got, want) {
		t.Errorf("readdir = %q, want %q", got, want)
	}
}

func TestStatfs(t *testing.T) {
	g := newRig(t, Options{})
	mustUpdate(t, g.root, files{"a/x": make([]byte, 5000), "b": make([]byte, 10)}.tree(g.c, ""))
	var out fuse.StatfsOut
	if st := g.raw.StatFs(nil, &fuse.InHeader{NodeId: g.mustLookup("a/x").NodeId}, &out); !st.Ok() {
		t.Fatal(st)
	}
	if out.Blocks != 2 || out.Bfree != 0 || out.Files != 4 || out.Bsize != 4096 || out.NameLen != 255 {
		t.Errorf("statfs %+v", out)
	}
}

func TestReadErrors(t *testing.T) {
	g := newRig(t, Options{})
	mustUpdate(t, g.root, files{"bad": randBytes(5, 10_000), "short": randBytes(6, 10_000)}.tree(g.c, ""))
	bad := g.mustLookup("bad")
	o, _ := g.open(bad.NodeId, syscall.O_RDONLY)
	tf := g.root.snapshot().dirs[""].kids["bad"].file
	g.c.setFail(tf.digest, fmt.Errorf("block 3: %w", errInjected))
	for off := range int64(3) {
		if _, st := g.read(nil, bad.NodeId, o.Fh, off*100, 100); st != fuse.EIO {
			t.Fatalf("read of failing file: %v, want EIO", st)
		}
	}
	if n := g.logs.count(slog.LevelError); n != 1 {
		t.Errorf("%d error logs for 3 failures of one kind, want 1", n)
	}
	g.c.setFail(tf.digest, errors.New("another failure"))
	if _, st := g.read(nil, bad.NodeId, o.Fh, 0, 100); st != fuse.EIO {
		t.Fatalf("read: %v", st)
	}
	if n := g.logs.count(slog.LevelError); n != 2 {
		t.Errorf("%d error logs after a second kind, want 2", n)
	}

	short := g.mustLookup("short")
	os, _ := g.open(short.NodeId, syscall.O_RDONLY)
	g.c.setShort(g.root.snapshot().dirs[""].kids["short"].file.digest)
	if _, st := g.read(nil, short.NodeId, os.Fh, 0, 100); st != fuse.EIO {
		t.Errorf("short read from content: %v, want EIO", st)
	}
	if s := g.root.Stats(); s.ReadErrors != 5 || s.Reads != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestReadInterrupted(t *testing.T) {
	logs := &logRecorder{}
	r := NewRoot(blockingContent{}, Options{Log: slog.New(logs)})
	mustUpdate(t, r, files{"f": []byte("data")}.tree(newFakeContent(), ""))
	raw := gofs.NewNodeFS(r, r.nodeFSOptions())
	var e fuse.EntryOut
	raw.Lookup(nil, &fuse.InHeader{NodeId: 1}, "f", &e)
	var o fuse.OpenOut
	if st := raw.Open(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: e.NodeId}}, &o); !st.Ok() {
		t.Fatal(st)
	}
	cancel := make(chan struct{})
	close(cancel) // the kernel sent INTERRUPT
	buf := make([]byte, 4)
	if _, st := raw.Read(cancel, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: e.NodeId}, Fh: o.Fh, Size: 4}, buf); st != fuse.EINTR {
		t.Errorf("interrupted read: %v, want EINTR", st)
	}
	if logs.count(slog.LevelDebug) != 0 || r.Stats().Interrupted != 1 || r.Stats().ReadErrors != 0 {
		t.Errorf("interrupted read logged or miscounted: %+v", r.Stats())
	}
}

func TestStatusXattr(t *testing.T) {
	status := []byte(`{"generation":"g1","regions":["r1"]}`)
	var fail bool
	g := newRig(t, Options{Status: func() ([]byte, error) {
		if fail {
			return nil, errInjected
		}
		return status, nil
	}})
	h := &fuse.InHeader{NodeId: 1}
	if n, st := g.raw.GetXAttr(nil, h, StatusXattr, make([]byte, 5)); st != fuse.ERANGE || int(n) != len(status) {
		t.Errorf("small buffer: %d %v", n, st)
	}
	buf := make([]byte, 1024)
	n, st := g.raw.GetXAttr(nil, h, StatusXattr, buf)
	if !st.Ok() || !bytes.Equal(buf[:n], status) {
		t.Errorf("getxattr: %q %v", buf[:n], st)
	}
	if _, st := g.raw.GetXAttr(nil, h, "user.other", buf); st != fuse.ENOATTR {
		t.Errorf("other xattr: %v", st)
	}
	n, st = g.raw.ListXAttr(nil, h, buf)
	if !st.Ok() || string(buf[:n]) != StatusXattr+"\x00" {
		t.Errorf("listxattr: %q %v", buf[:n], st)
	}
	fail = true
	if _, st := g.raw.GetXAttr(nil, h, StatusXattr, buf); st != fuse.EIO {
		t.Errorf("failing status: %v, want EIO", st)
	}
	status, fail = make([]byte, maxXattrSize+1), false
	if _, st := g.raw.GetXAttr(nil, h, StatusXattr, buf); st != fuse.Status(syscall.E2BIG) {
		t.Errorf("huge status: %v, want E2BIG", st)
	}

	nostatus := newRig(t, Options{})
	if _, st := nostatus.raw.GetXAttr(nil, h, StatusXattr, buf); st != fuse.ENOATTR {
		t.Errorf("no Status func: %v", st)
	}
}
