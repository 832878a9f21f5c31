//go:build !linux

package fs

import "github.com/hanwen/go-fuse/v2/fuse"

// pipeLoan needs splice(2), which only Linux has: the read goes through
// Content instead.
func pipeLoan(fd int, off int64, n int, release func()) (fuse.ReadResult, bool) {
	release()
	return nil, false
}
