//go:build unix

package cache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Blocks are written to the content files with O_DIRECT by default: the
// bytes go from the caller's verified buffer to the disk without a copy
// into the page cache. A cold read through the mount already fills the
// mount's own pages with the same bytes, so a buffered write paid for a
// second page-cache copy of every byte (the largest single cost of a cold
// read in the profiles of docs/benchmarks.md: fresh pages, and concurrent
// writers spinning on the file's lock) and held twice the memory.
// Reads of the cache still go through the page cache. A block written
// direct counts as trusted (this process wrote it from verified bytes)
// but is not resident until someone reads it: a read through the cache
// then comes from the disk and checks the chunk CRCs (the trust rule of
// the package doc), and a passthrough hand-over of a file fetched in this
// process first hashes the whole file from the disk (rack/reader's
// whole-file check). What the kernel reads from the disk after that
// hand-over is unchecked, as it was when the pages of a buffered write had
// been evicted.
//
// O_DIRECT needs the buffer, the offset and the length aligned to the
// device's logical block size; directAlign (4 KiB) is a multiple of every
// common one. Blocks start at multiples of BlockSize, so only the buffer
// and the length matter: the aligned head of a block is written direct,
// an unaligned tail (the last block of a file) through the page cache. A
// buffer that is not aligned, or a file system that refuses O_DIRECT
// (EINVAL, as tmpfs did before Linux 6.6), gets a buffered write; the
// first refusal turns direct writes off for the cache's life.

// directAlign is the alignment direct writes need.
const directAlign = 4096

// writeMode is how writeAt wrote a block.
type writeMode int

const (
	writeBuffered writeMode = iota
	writeDirect
)

// writeAt writes data at off in the content file at path, creating the
// file (and its shard directory) if needed, direct when direct is true
// and the buffer allows it (see above). It does not fsync; Flush does
// before the block is listed in a persisted index. refused reports that
// the file system refused O_DIRECT.
func writeAt(path string, off int64, data []byte, direct bool) (mode writeMode, refused bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if errors.Is(err, fs.ErrNotExist) { // first file in this shard
		if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return writeBuffered, false, err
		}
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	}
	if err != nil {
		return writeBuffered, false, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	head := len(data) &^ (directAlign - 1)
	if direct && head > 0 && off%directAlign == 0 && uintptr(unsafe.Pointer(&data[0]))%directAlign == 0 {
		switch n, derr := writeDirectAt(f, data[:head], off); {
		case derr == nil:
			if _, err = f.WriteAt(data[head:], off+int64(head)); err != nil {
				return writeDirect, false, err
			}
			return writeDirect, false, nil
		case errors.Is(derr, unix.EINVAL) && n == 0:
			refused = true // fall through to a buffered write of it all
		default:
			return writeDirect, false, derr
		}
	}
	_, err = f.WriteAt(data, off)
	return writeBuffered, refused, err
}

// writeDirectAt writes p (aligned) at off with O_DIRECT set on f for the
// call. It returns how many bytes were written.
func writeDirectAt(f *os.File, p []byte, off int64) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var werr error
	if err := rc.Control(func(fd uintptr) {
		flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			werr = err
			return
		}
		if _, err := unix.FcntlInt(fd, unix.F_SETFL, flags|unix.O_DIRECT); err != nil {
			werr = err
			return
		}
		for n < len(p) {
			m, err := unix.Pwrite(int(fd), p[n:], off+int64(n))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				werr = err
				break
			}
			if m == 0 {
				werr = unix.EIO
				break
			}
			n += m
		}
		if _, err := unix.FcntlInt(fd, unix.F_SETFL, flags); err != nil && werr == nil {
			werr = err
		}
	}); err != nil {
		return 0, err
	}
	if werr != nil {
		return n, &fs.PathError{Op: "write", Path: f.Name(), Err: werr}
	}
	return n, nil
}
