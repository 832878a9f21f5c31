package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// dirCore implements a directory of the tree. It is identified by its path
// only and answers from whatever snapshot is current, so a directory node
// outlives updates; once its path leaves the tree it is empty and every
// lookup in it fails.
type dirCore struct {
	common
	path string
}

// dirNode is a directory other than the root.
type dirNode struct {
	gofs.Inode
	dirCore
}

var (
	_ gofs.NodeLookuper      = (*dirNode)(nil)
	_ gofs.NodeReaddirer     = (*dirNode)(nil)
	_ gofs.NodeGetattrer     = (*dirNode)(nil)
	_ gofs.NodeStatfser      = (*dirNode)(nil)
	_ gofs.NodeSetattrer     = (*dirNode)(nil)
	_ gofs.NodeMkdirer       = (*dirNode)(nil)
	_ gofs.NodeMknoder       = (*dirNode)(nil)
	_ gofs.NodeCreater       = (*dirNode)(nil)
	_ gofs.NodeSymlinker     = (*dirNode)(nil)
	_ gofs.NodeLinker        = (*dirNode)(nil)
	_ gofs.NodeUnlinker      = (*dirNode)(nil)
	_ gofs.NodeRmdirer       = (*dirNode)(nil)
	_ gofs.NodeRenamer       = (*dirNode)(nil)
	_ gofs.NodeSetxattrer    = (*dirNode)(nil)
	_ gofs.NodeRemovexattrer = (*dirNode)(nil)
)

// Lookup implements gofs.NodeLookuper from the current snapshot. The node it
// returns is fully determined by its StableAttr (go-fuse hands back the node
// it already has for that StableAttr, if any).
func (d *dirCore) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	r := d.fs
	r.stats.lookups.Add(1)
	for {
		t := r.snapshot()
		if r.lookupHook != nil {
			r.lookupHook(d.path, name)
		}
		var c child
		ok := false
		if dir := t.dirs[d.path]; dir != nil {
			c, ok = dir.kids[name]
		}
		var node gofs.InodeEmbedder
		var attr gofs.StableAttr
		switch {
		case !ok:
		case c.dir != nil:
			dirAttr(c.dir, &out.Attr)
			out.SetEntryTimeout(r.opts.DirTimeout)
			out.SetAttrTimeout(r.opts.DirTimeout)
			node = &dirNode{dirCore: dirCore{common: common{fs: r}, path: c.dir.path}}
			attr = gofs.StableAttr{Mode: fuse.S_IFDIR, Ino: c.dir.ino}
		default:
			fileAttr(c.file, &out.Attr)
			out.SetEntryTimeout(r.opts.EntryTimeout)
			out.SetAttrTimeout(r.opts.AttrTimeout)
			node = &fileNode{common: common{fs: r}, f: c.file}
			attr = gofs.StableAttr{Mode: fuse.S_IFREG, Ino: c.file.ino}
		}
		if r.snapshot() != t {
			// An Update swapped the tree meanwhile: answer from the
			// new one, whose changes the kernel may already have
			// been told about.
			*out = fuse.EntryOut{}
			continue
		}
		if !ok {
			// go-fuse turns ENOENT into a cached negative entry
			// (Options.NegativeTimeout, see nodeFSOptions).
			r.stats.negativeLookups.Add(1)
			return nil, syscall.ENOENT
		}
		return r.NewInode(ctx, node, attr), 0
	}
}

// Readdir implements gofs.NodeReaddirer from the current snapshot, in name
// order. "." and ".." are not listed.
func (d *dirCore) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	dir := d.fs.snapshot().dirs[d.path]
	if dir == nil {
		return gofs.NewListDirStream(nil), 0
	}
	es := make([]fuse.DirEntry, 0, len(dir.names))
	for _, name := range dir.names {
		c := dir.kids[name]
		if c.dir != nil {
			es = append(es, fuse.DirEntry{Name: name, Mode: fuse.S_IFDIR, Ino: c.dir.ino})
		} else {
			es = append(es, fuse.DirEntry{Name: name, Mode: fuse.S_IFREG, Ino: c.file.ino})
		}
	}
	return gofs.NewListDirStream(es), 0
}

// Getattr implements gofs.NodeGetattrer.
func (d *dirCore) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	dirAttr(d.fs.snapshot().dirs[d.path], &out.Attr)
	out.SetTimeout(d.fs.opts.DirTimeout)
	return 0
}

// dirAttr fills the attributes of dir; a nil dir is one that left the tree.
func dirAttr(dir *dirInfo, a *fuse.Attr) {
	a.Mode = fuse.S_IFDIR | 0o555
	a.Nlink = 2
	if dir != nil {
		a.Nlink += uint32(dir.subdirs)
	}
	a.Size = 4096
	a.Blocks = 8
	a.Blksize = 4096
	a.Atime, a.Mtime, a.Ctime = baseTime, baseTime, baseTime
	a.Owner = fuse.Owner{Uid: 0, Gid: 0}
}

// The namespace never changes through the mount.

// Mkdir implements gofs.NodeMkdirer: EROFS.
func (d *dirCore) Mkdir(context.Context, string, uint32, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Mknod implements gofs.NodeMknoder: EROFS.
func (d *dirCore) Mknod(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Create implements gofs.NodeCreater: EROFS.
func (d *dirCore) Create(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

// Symlink implements gofs.NodeSymlinker: EROFS.
func (d *dirCore) Symlink(context.Context, string, string, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Link implements gofs.NodeLinker: EROFS.
func (d *dirCore) Link(context.Context, gofs.InodeEmbedder, string, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Unlink implements gofs.NodeUnlinker: EROFS. (Without it go-fuse would
// report success and drop the child from its Inode tree.)
func (d *dirCore) Unlink(context.Context, string) syscall.Errno { return syscall.EROFS }

// Rmdir implements gofs.NodeRmdirer: EROFS, for the same reason as Unlink.
func (d *dirCore) Rmdir(context.Context, string) syscall.Errno { return syscall.EROFS }

// Rename implements gofs.NodeRenamer: EROFS.
func (d *dirCore) Rename(context.Context, string, gofs.InodeEmbedder, string, uint32) syscall.Errno {
	return syscall.EROFS
}
