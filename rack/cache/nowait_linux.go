package cache

import (
	"errors"
	"io/fs"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

var errNoWaitUnsupported = errors.New("RWF_NOWAIT reads unsupported")

// pageSize is the unit of the page cache.
var pageSize = int64(os.Getpagesize())

// readCached fills p from offset off only if every byte is in the page
// cache, so no byte comes from the disk. done is false when some byte is
// not cached; the caller then reads and checks. errNoWaitUnsupported means
// the kernel or filesystem cannot do this.
//
// preadv2 with RWF_NOWAIT alone is not enough: on recent kernels (seen on
// 6.18) a NOWAIT read of pages that are not cached sometimes starts
// readahead and succeeds, with bytes fresh from the disk. So the pages are
// first asked for with mincore, which never reads the disk, and the NOWAIT
// read is trusted only when every page was already cached before it.
func (f blockFile) readCached(p []byte, off int64) (done bool, err error) {
	if len(p) == 0 {
		return true, nil
	}
	if in, err := resident(f.fd, off, len(p)); err != nil || !in {
		return false, nil // not provably cached: the caller reads and checks
	}
	for {
		n, err := unix.Preadv2(f.fd, [][]byte{p}, off, unix.RWF_NOWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false, nil
		case err == unix.EOPNOTSUPP || err == unix.EINVAL || err == unix.ENOSYS:
			return false, errNoWaitUnsupported
		case err != nil:
			return false, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		return n == len(p), nil
	}
}

// resident reports whether every page of fd's bytes [off, off+n) is in the
// page cache. It maps the range without touching it and asks mincore, so it
// never reads the disk (pages past the end of a cut file count as absent).
func resident(fd int, off int64, n int) (bool, error) {
	start := off &^ (pageSize - 1)
	length := int(off + int64(n) - start)
	m, err := unix.Mmap(fd, start, length, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return false, err
	}
	defer unix.Munmap(m)
	var small [272]byte // a 1 MiB block spans at most 257 4 KiB pages
	pages := (length + int(pageSize) - 1) / int(pageSize)
	var vec []byte
	if pages <= len(small) {
		vec = small[:pages]
	} else {
		vec = make([]byte, pages)
	}
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return false, e
	}
	for _, v := range vec {
		if v&1 == 0 {
			return false, nil
		}
	}
	return true, nil
}
