package fs

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

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
	return newRigWith(t, o, nil)
}

// newRigWith is newRig whose Root reads from wrap(g.c) (from g.c if wrap is
// nil).
func newRigWith(t *testing.T, o Options, wrap func(*fakeContent) Content) *rig {
	t.Helper()
	g := &rig{t: t, rec: &recorder{}, c: newFakeContent(), logs: &logRecorder{}}
	o.Log = slog.New(g.logs)
	var c Content = g.c
	if wrap != nil {
		c = wrap(g.c)
	}
	g.root = NewRoot(c, o)
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
