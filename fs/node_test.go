package fs

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

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
