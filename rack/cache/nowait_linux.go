package cache

import (
	"errors"
	"io/fs"

	"golang.org/x/sys/unix"
)

var errNoWaitUnsupported = errors.New("RWF_NOWAIT reads unsupported")

// readCached fills p from offset off only if every byte is in the page
// cache (preadv2 with RWF_NOWAIT), so no byte comes from the disk. done is
// false when some byte is not cached; the caller then reads and checks.
// errNoWaitUnsupported means the kernel or filesystem cannot do this.
func (f blockFile) readCached(p []byte, off int64) (done bool, err error) {
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
