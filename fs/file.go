package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
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
// with EROFS. The page cache is kept across opens (the inode's bytes never
// change) and close sends no FLUSH.
func (n *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EROFS
	}
	n.fs.stats.opens.Add(1)
	return &handle{fs: n.fs, f: n.f}, fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_NOFLUSH, 0
}

// handle is an open file. It remembers the file (hence the digest) it was
// opened on, whatever Update does afterwards.
type handle struct {
	fs *Root
	f  *fileInfo
}

var _ gofs.FileReader = (*handle)(nil)

// Read implements gofs.FileReader: verified bytes from Content or an error,
// never a partial mix.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f := h.f
	if off >= f.size || len(dest) == 0 {
		return fuse.ReadResultData(nil), 0
	}
	p := dest[:min(int64(len(dest)), f.size-off)]
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
