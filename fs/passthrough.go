package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// openHandle decides the I/O mode of a new open of n and returns its handle
// and FOPEN flags. The kernel refuses (EIO) an open whose mode differs from
// that of the inode's other open files, and go-fuse marks every open of an
// inode that already has a backing file as passthrough if its handle can
// pass through, so the mode follows the handles already open:
//
//   - caching handles open: another caching handle; Backing is not asked;
//   - passthrough handles open: another passthrough handle sharing the
//     inode's Backing (the kernel reads the file registered first anyway);
//   - none: a passthrough handle if Backing says ok, else a caching one.
//
// One Backing per inode, held from its first passthrough open to the
// release of its last, keeps the bytes the kernel reads pinned for as long
// as any handle may read them. Without a Backer (Options.Passthrough off,
// or a Content that is not one), for empty files, and once the kernel was
// seen not to take backing files, every handle is a caching handle.
func (n *fileNode) openHandle(ctx context.Context) (gofs.FileHandle, uint32, syscall.Errno) {
	r := n.fs
	n.openMu.Lock()
	defer n.openMu.Unlock()
	if n.passthrough > 0 {
		n.passthrough++
		r.stats.passthroughOpens.Add(1)
		return &passthroughHandle{handle: handle{fs: r, node: n, f: n.f}, b: n.backing}, fuse.FOPEN_NOFLUSH, 0
	}
	if r.backer == nil || n.f.size == 0 || n.caching > 0 || r.fallbackLogged.Load() {
		return n.cachingHandleLocked()
	}
	// Holding openMu across Backing serializes the opens of this one inode
	// (not of others): the decision must stay true until the count changes.
	fd, release, ok := r.backer.Backing(ctx, n.f.digest, n.f.size)
	if !ok {
		return n.cachingHandleLocked()
	}
	n.backing = &backing{fd: fd, release: release}
	n.passthrough = 1
	r.stats.passthroughOpens.Add(1)
	// go-fuse adds FOPEN_PASSTHROUGH and drops FOPEN_KEEP_CACHE if it
	// registers the backing file.
	return &passthroughHandle{handle: handle{fs: r, node: n, f: n.f}, b: n.backing}, fuse.FOPEN_NOFLUSH, 0
}

// cachingHandleLocked returns a new caching-mode handle; n.openMu is held.
func (n *fileNode) cachingHandleLocked() (gofs.FileHandle, uint32, syscall.Errno) {
	n.caching++
	return &handle{fs: n.fs, node: n, f: n.f}, fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_NOFLUSH, 0
}

// backing is an inode's Backing, shared by its passthrough handles.
type backing struct {
	fd      int
	release func()
}

// passthroughHandle is an open file in passthrough mode. go-fuse registers
// the descriptor of the inode's backing file at the first such open and
// the kernel then reads that file itself; the inode's Backing keeps the
// bytes pinned until its last passthrough handle is released. If go-fuse
// could not register it (no CAP_SYS_ADMIN), the kernel sends READs as usual
// and the embedded handle answers them from Content.
type passthroughHandle struct {
	handle
	b *backing
	// released is set by Release; guarded by handle.node.openMu.
	released bool
}

var (
	_ gofs.FilePassthroughFder = (*passthroughHandle)(nil)
	_ gofs.FileReader          = (*passthroughHandle)(nil)
	_ gofs.FileReleaser        = (*passthroughHandle)(nil)
)

// PassthroughFd implements gofs.FilePassthroughFder. go-fuse calls it when
// the inode has no registered backing file yet, right after Open, and does
// not close the descriptor (the kernel takes its own reference).
func (h *passthroughHandle) PassthroughFd() (int, bool) { return h.b.fd, true }

// Read implements gofs.FileReader. It is only reached when passthrough is
// not in effect: go-fuse then serves the file with ordinary READs, answered
// from Content. The first such READ is logged, and from then on files are
// opened in caching mode (go-fuse stops trying for the whole mount).
func (h *passthroughHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h.fs.fallbackLogged.CompareAndSwap(false, true) {
		h.fs.log.Warn("FUSE passthrough is not in effect (the kernel refused the backing file: "+
			"it needs CAP_SYS_ADMIN and a file on a non-stacking file system); serving reads from the cache",
			"path", h.f.path, "sha256", h.f.digest.String())
	}
	return h.handle.Read(ctx, dest, off)
}

// Release implements gofs.FileReleaser: the kernel closed the handle (and
// had already left passthrough mode, if it was the last one). The last
// passthrough handle of the inode releases its Backing; the count drops
// first, so a racing open takes a new Backing rather than a released one.
func (h *passthroughHandle) Release(ctx context.Context) syscall.Errno {
	n := h.node
	n.openMu.Lock()
	var release func()
	if !h.released {
		h.released = true
		if n.passthrough--; n.passthrough == 0 {
			release = n.backing.release
			n.backing = nil
		}
	}
	n.openMu.Unlock()
	if release != nil {
		release()
	}
	return 0
}
