//go:build unix

package cache

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// blockFile is a block file opened for reading with raw system calls: a hit
// is open + pread + close, without the *os.File allocation and the poller
// registration attempt os.Open makes.
type blockFile struct {
	fd   int
	path string
}

func openBlock(path string) (blockFile, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return blockFile{}, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return blockFile{fd: fd, path: path}, nil
	}
}

// readFull fills p from offset off; a file that ends first is errTruncated.
func (f blockFile) readFull(p []byte, off int64) error {
	for done := 0; done < len(p); {
		n, err := unix.Pread(f.fd, p[done:], off+int64(done))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return &fs.PathError{Op: "read", Path: f.path, Err: err}
		case n == 0:
			return fmt.Errorf("%s: %d bytes at %d: %w", f.path, done, off, errTruncated)
		}
		done += n
	}
	return nil
}

// makeDirs creates dir and dir/blocks; Put creates shard directories as
// it needs them.
func makeDirs(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, blocksDir), 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// lockDir takes an exclusive flock on path, failing with ErrInUse when
// another open Cache (in this or another process) holds it.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("cache: %s: %w", path, ErrInUse)
		}
		return nil, fmt.Errorf("cache: lock %s: %w", path, err)
	}
	return f, nil
}
