package fs

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/bootfs/bootfs/internal/wire"
)

// Root is the root directory of the boot tree and the handle on the whole
// file system: mount it with Mount, change it with Update.
type Root struct {
	gofs.Inode
	dirCore

	content Content
	opts    Options
	log     *slog.Logger
	// backer is content as a Backer when Options.Passthrough is set and
	// content implements it; nil means no passthrough.
	backer Backer
	// lender is content as a Lender, if it is one.
	lender Lender
	// fallbackLogged is set once a READ reached a passthrough handle, i.e.
	// go-fuse could not register its backing file, and that was logged;
	// from then on files open in caching mode.
	fallbackLogged atomic.Bool

	// cur is the current snapshot; readers load it without locking.
	cur atomic.Pointer[tree]
	// updateMu serializes Update: the swap and the notifications that
	// follow it. No FUSE handler takes it, so holding it while the kernel
	// processes a notification cannot deadlock.
	updateMu sync.Mutex
	// attached is set once go-fuse adopted the root (NewNodeFS called
	// OnAdd); before that its Inode has no bridge and must not be notified.
	attached atomic.Bool

	errs  errOnce
	stats counters

	// lookupHook, if set (by tests, before mounting), runs in every
	// Lookup after the snapshot was loaded.
	lookupHook func(dir, name string)
}

var (
	_ gofs.NodeOnAdder       = (*Root)(nil)
	_ gofs.NodeGetxattrer    = (*Root)(nil)
	_ gofs.NodeListxattrer   = (*Root)(nil)
	_ gofs.NodeLookuper      = (*Root)(nil)
	_ gofs.NodeReaddirer     = (*Root)(nil)
	_ gofs.NodeGetattrer     = (*Root)(nil)
	_ gofs.NodeStatfser      = (*Root)(nil)
	_ gofs.NodeSetattrer     = (*Root)(nil)
	_ gofs.NodeMkdirer       = (*Root)(nil)
	_ gofs.NodeCreater       = (*Root)(nil)
	_ gofs.NodeUnlinker      = (*Root)(nil)
	_ gofs.NodeRmdirer       = (*Root)(nil)
	_ gofs.NodeRenamer       = (*Root)(nil)
	_ gofs.NodeSymlinker     = (*Root)(nil)
	_ gofs.NodeLinker        = (*Root)(nil)
	_ gofs.NodeMknoder       = (*Root)(nil)
	_ gofs.NodeSetxattrer    = (*Root)(nil)
	_ gofs.NodeRemovexattrer = (*Root)(nil)
)

// NewRoot returns an empty file system reading file bytes from c.
func NewRoot(c Content, o Options) *Root {
	o = o.withDefaults()
	r := &Root{content: c, opts: o, log: o.Log}
	if b, ok := c.(Backer); ok && o.Passthrough {
		r.backer = b
	}
	if l, ok := c.(Lender); ok {
		r.lender = l
	}
	r.dirCore = dirCore{common: common{fs: r}}
	r.cur.Store(emptyTree())
	return r
}

// OnAdd implements gofs.NodeOnAdder; go-fuse calls it when it adopts the
// root (gofs.NewNodeFS, hence Mount).
func (r *Root) OnAdd(context.Context) { r.attached.Store(true) }

// Update atomically replaces the tree. Files whose (path, sha256) are
// unchanged keep their inode; a path whose sha256 changed gets a new inode,
// so a file opened before the update keeps reading the content it opened and
// a new open sees only the new content. Directories that become empty
// disappear. The kernel is told at once about every name that changed.
//
// Update applies the valid part of t: an entry that is bad (a path that
// internal/pathrule refuses: "..", "." or empty components, absolute, NUL or
// control characters, too long; a missing sha256; a negative size) or that
// clashes with an earlier entry (a duplicate path, a path that is both a
// file and a directory, one sha256 with two sizes) is left out, and listed
// by Skipped until the next Update. Only a nil tree is refused (ErrInvalidTree).
// It is safe to call while the file system is mounted and busy, and before
// mounting.
func (r *Root) Update(t *wire.Tree) error {
	next, err := buildTree(t)
	if err != nil {
		return err
	}
	r.updateMu.Lock()
	defer r.updateMu.Unlock()
	prev := r.cur.Swap(next)
	r.notify(prev, next)
	return nil
}

// Skipped returns the entries the tree installed last left out, in tree
// order (nil when none). The slice is shared: do not modify it.
func (r *Root) Skipped() []Skipped { return r.cur.Load().skipped }

// Generation returns the Generation of the tree last installed by Update
// ("" before the first one).
func (r *Root) Generation() string { return r.cur.Load().generation }

// snapshot returns the current tree.
func (r *Root) snapshot() *tree { return r.cur.Load() }
