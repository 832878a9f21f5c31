package fs

import (
	"context"
	"syscall"
)

// maxXattrSize is XATTR_SIZE_MAX: getxattr(2) cannot return more.
const maxXattrSize = 64 << 10

// Getxattr implements gofs.NodeGetxattrer on the root: StatusXattr returns
// Options.Status. Callers should pass a large buffer (e.g. 64 KiB) rather
// than query the size first: the status may grow between the two calls
// (then the read fails with ERANGE; retry).
func (r *Root) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if attr != StatusXattr || r.opts.Status == nil {
		return 0, syscall.ENODATA
	}
	b, err := r.opts.Status()
	if err != nil {
		// The xattr caller sees only EIO; the detail goes to the log.
		r.log.Error("status for getxattr failed", "xattr", attr, "err", err)
		return 0, syscall.EIO
	}
	if len(b) > maxXattrSize {
		r.log.Error("status too large for getxattr", "xattr", attr, "bytes", len(b), "max", maxXattrSize)
		return 0, syscall.E2BIG
	}
	if len(dest) < len(b) {
		// With len(dest) == 0 this is a size query; go-fuse turns the
		// ERANGE into success.
		return uint32(len(b)), syscall.ERANGE
	}
	return uint32(copy(dest, b)), 0
}

// Listxattr implements gofs.NodeListxattrer on the root.
func (r *Root) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if r.opts.Status == nil {
		return 0, 0
	}
	list := StatusXattr + "\x00"
	if len(dest) < len(list) {
		return uint32(len(list)), syscall.ERANGE
	}
	return uint32(copy(dest, list)), 0
}
