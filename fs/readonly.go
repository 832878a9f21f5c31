package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// common holds what every node shares: the file system it belongs to, file
// system statistics, and the refusal of every metadata change.
type common struct {
	fs *Root
}

// Statfs implements gofs.NodeStatfser: the tree's size, all of it used.
func (c *common) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	t := c.fs.snapshot()
	const bsize = 4096
	*out = fuse.StatfsOut{
		Blocks:  (uint64(t.bytes) + bsize - 1) / bsize,
		Files:   uint64(t.files + len(t.dirs)),
		Bsize:   bsize,
		Frsize:  bsize,
		NameLen: maxNameLen,
	}
	return 0
}

// Setattr implements gofs.NodeSetattrer: EROFS (chmod, chown, truncate,
// utimes).
func (c *common) Setattr(context.Context, gofs.FileHandle, *fuse.SetAttrIn, *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

// Setxattr implements gofs.NodeSetxattrer: EROFS.
func (c *common) Setxattr(context.Context, string, []byte, uint32) syscall.Errno {
	return syscall.EROFS
}

// Removexattr implements gofs.NodeRemovexattrer: EROFS.
func (c *common) Removexattr(context.Context, string) syscall.Errno {
	return syscall.EROFS
}
