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
//   - passthrough handles open: another passthrough handle, holding its own
//     Backing; if Backing fails now (it should not: the open handles pin
//     the bytes) the open fails with EIO;
//   - none: a passthrough handle if Backing says ok, else a caching one.
//
// Without a Backer (Options.Passthrough off, or a Content that is not one),
// and for empty files, every handle is a caching handle.
func (n *fileNode) openHandle(ctx context.Context) (gofs.FileHandle, uint32, syscall.Errno) {
	r := n.fs
	n.openMu.Lock()
	defer n.openMu.Unlock()
	if r.backer == nil || n.f.size == 0 || n.caching > 0 {
		return n.cachingHandleLocked()
	}
	// Holding openMu across Backing serializes the opens of this one inode
	// (not of others): the decision must stay true until the count changes.
	fd, release, ok := r.backer.Backing(ctx, n.f.digest, n.f.size)
	switch {
	case ok:
		n.passthrough++
		r.stats.passthroughOpens.Add(1)
		h := &passthroughHandle{handle: handle{fs: r, node: n, f: n.f}, fd: fd, release: release}
		// go-fuse adds FOPEN_PASSTHROUGH and drops FOPEN_KEEP_CACHE if it
		// registers the backing file.
		return h, fuse.FOPEN_NOFLUSH, 0
	case n.passthrough == 0:
		return n.cachingHandleLocked()
	case ctx.Err() != nil:
		return nil, 0, syscall.EINTR
	default:
		r.log.Error("no backing file for a file open in passthrough mode, failing the open with EIO",
			"path", n.f.path, "sha256", n.f.digest.String(), "passthrough_handles", n.passthrough)
		return nil, 0, syscall.EIO
	}
}

// cachingHandleLocked returns a new caching-mode handle; n.openMu is held.
func (n *fileNode) cachingHandleLocked() (gofs.FileHandle, uint32, syscall.Errno) {
	n.caching++
	return &handle{fs: n.fs, node: n, f: n.f}, fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_NOFLUSH, 0
}

// passthroughHandle is an open file in passthrough mode: it pins a backing
// file (Backer.Backing) until Release. go-fuse registers the descriptor of
// the first such handle of an inode as the inode's backing file and the
// kernel then reads that file itself; later handles of the inode share
// that registration but each pins the bytes for its own lifetime. If go-fuse
// could not register it (no CAP_SYS_ADMIN), the kernel sends READs as
// usual and the embedded handle answers them from Content.
type passthroughHandle struct {
	handle
	fd int
	// release ends this handle's use of fd; set to nil once called.
	// Guarded by handle.node.openMu.
	release func()
}

var (
	_ gofs.FilePassthroughFder = (*passthroughHandle)(nil)
	_ gofs.FileReader          = (*passthroughHandle)(nil)
	_ gofs.FileReleaser        = (*passthroughHandle)(nil)
)

// PassthroughFd implements gofs.FilePassthroughFder. go-fuse calls it at
// most once, right after Open, and does not close the descriptor (the
// kernel takes its own reference when registering it).
func (h *passthroughHandle) PassthroughFd() (int, bool) { return h.fd, true }

// Read implements gofs.FileReader. It is only reached when passthrough is
// not in effect: go-fuse then serves the file with ordinary READs, answered
// from Content. The first such READ is logged.
func (h *passthroughHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h.fs.fallbackLogged.CompareAndSwap(false, true) {
		h.fs.log.Warn("FUSE passthrough is not in effect (the kernel refused the backing file: "+
			"it needs CAP_SYS_ADMIN and a file on a non-stacking file system); serving reads from the cache",
			"path", h.f.path, "sha256", h.f.digest.String())
	}
	return h.handle.Read(ctx, dest, off)
}

// Release implements gofs.FileReleaser: the kernel closed the handle (and
// had already left passthrough mode, if it was the last one). The count
// drops before the backing file is released, so a racing open never finds
// a passthrough handle counted whose bytes are no longer pinned.
func (h *passthroughHandle) Release(ctx context.Context) syscall.Errno {
	n := h.node
	n.openMu.Lock()
	release := h.release
	if release != nil {
		n.passthrough--
		h.release = nil
	}
	n.openMu.Unlock()
	if release != nil {
		release()
	}
	return 0
}
