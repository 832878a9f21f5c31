package fs

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"testing"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

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
