package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bootfs/bootfs/internal/digest"
)

// errShortRead marks a Content that returned fewer bytes than the file's
// size promises, without an error.
var errShortRead = errors.New("short read from content")

// fileNode is a file inode: one (path, sha256) forever.
type fileNode struct {
	gofs.Inode
	common
	f *fileInfo

	// openMu guards caching, passthrough and backing, the open handles of this
	// inode by I/O mode (see openHandle in passthrough.go), and serializes
	// opens of this inode with the Backing call they make.
	openMu      sync.Mutex
	caching     int      // open caching-mode handles (*handle)
	passthrough int      // open passthrough handles (*passthroughHandle)
	backing     *backing // shared by the passthrough handles; nil when none is open
}

var (
	_ gofs.NodeOpener        = (*fileNode)(nil)
	_ gofs.NodeGetattrer     = (*fileNode)(nil)
	_ gofs.NodeStatfser      = (*fileNode)(nil)
	_ gofs.NodeSetattrer     = (*fileNode)(nil)
	_ gofs.NodeSetxattrer    = (*fileNode)(nil)
	_ gofs.NodeRemovexattrer = (*fileNode)(nil)
)

// Getattr implements gofs.NodeGetattrer. The attributes never change.
func (n *fileNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fileAttr(n.f, &out.Attr)
	out.SetTimeout(n.fs.opts.AttrTimeout)
	return 0
}

// fileAttr fills the attributes of f: 0444 root:root, mtime from the digest,
// a preferred I/O size of one verified block.
func fileAttr(f *fileInfo, a *fuse.Attr) {
	a.Mode = fuse.S_IFREG | 0o444
	a.Nlink = 1
	a.Size = uint64(f.size)
	a.Blocks = (uint64(f.size) + 511) / 512
	a.Blksize = digest.BlockSize
	a.Atime, a.Mtime, a.Ctime = f.mtime, f.mtime, f.mtime
	a.Owner = fuse.Owner{Uid: 0, Gid: 0}
}

// Open implements gofs.NodeOpener. Opening for anything but reading fails
// with EROFS. The handle is a passthrough handle or a caching one, see
// openHandle. A caching handle keeps the page cache across opens (the
// inode's bytes never change); close sends no FLUSH.
func (n *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EROFS
	}
	n.fs.stats.opens.Add(1)
	return n.openHandle(ctx)
}

// handle is an open file in caching mode: the kernel sends READs, answered
// from Content, and keeps the bytes in its page cache. It remembers the file
// (hence the digest) it was opened on, whatever Update does afterwards.
type handle struct {
	fs   *Root
	node *fileNode
	f    *fileInfo
}

var (
	_ gofs.FileReader   = (*handle)(nil)
	_ gofs.FileReleaser = (*handle)(nil)
)

// Release implements gofs.FileReleaser: the kernel closed the handle (and
// had already left caching mode for it, if it was the last one).
func (h *handle) Release(ctx context.Context) syscall.Errno {
	h.node.openMu.Lock()
	defer h.node.openMu.Unlock()
	h.node.caching--
	return 0
}

// Read implements gofs.FileReader: verified bytes from Content or an error,
// never a partial mix.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f := h.f
	if off >= f.size || len(dest) == 0 {
		return fuse.ReadResultData(nil), 0
	}
	p := dest[:min(int64(len(dest)), f.size-off)]
	if h.fs.lender != nil {
		if res, errno, ok := h.lend(ctx, len(p), off); ok {
			return res, errno
		}
	}
	n, err := h.fs.content.ReadAt(ctx, f.digest, f.size, p, off)
	if errors.Is(err, io.EOF) && n == len(p) {
		err = nil
	}
	if err == nil && n != len(p) {
		err = fmt.Errorf("%w: %d of %d bytes", errShortRead, n, len(p))
	}
	if err != nil {
		return nil, h.fs.readFailed(ctx, f, off, err)
	}
	h.fs.stats.reads.Add(1)
	h.fs.stats.readBytes.Add(uint64(n))
	return fuse.ReadResultData(p), 0
}

// lend answers a read of n bytes at off from a loan of the Content (see
// Lender); ok is false when the Content would rather be read with ReadAt.
func (h *handle) lend(ctx context.Context, n int, off int64) (fuse.ReadResult, syscall.Errno, bool) {
	f := h.f
	var pipe *pipeLoad
	load := func(fd int, fdOff int64) bool {
		pipe = loadPipe(fd, fdOff, n)
		return pipe != nil
	}
	bufs, release, err := h.fs.lender.Lend(ctx, f.digest, f.size, off, n, load)
	if pipe != nil && (release == nil || bufs != nil) {
		pipe.drop() // taken, then not vouched for (or not needed)
		pipe = nil
	}
	if err != nil {
		return nil, h.fs.readFailed(ctx, f, off, err), true
	}
	if release == nil {
		return nil, 0, false
	}
	var res fuse.ReadResult = &loanResult{bufs: bufs, release: release}
	if bufs == nil {
		if pipe == nil {
			release()
			return nil, 0, false // a Content that lent nothing
		}
		res = pipe.result(release)
		h.fs.stats.splicedReads.Add(1)
	}
	h.fs.stats.reads.Add(1)
	h.fs.stats.readBytes.Add(uint64(n))
	h.fs.stats.lentReads.Add(1)
	return res, 0, true
}

// loanResult is a FUSE reply written straight from lent buffers (go-fuse
// writes a result with Slices with one writev); Done ends the loan.
type loanResult struct {
	bufs    [][]byte
	release func()
	once    sync.Once
}

func (r *loanResult) Size() int {
	n := 0
	for _, b := range r.bufs {
		n += len(b)
	}
	return n
}

func (r *loanResult) Slices() ([][]byte, fuse.Status) { return r.bufs, fuse.OK }

func (r *loanResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	buf = buf[:0]
	for _, b := range r.bufs {
		buf = append(buf, b...)
	}
	return buf, fuse.OK
}

func (r *loanResult) Done() { r.once.Do(r.release) }
