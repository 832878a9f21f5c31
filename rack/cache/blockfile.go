//go:build unix

package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// blockFile is a content file opened for reading with raw system calls,
// without the *os.File allocation and the poller registration attempt
// os.Open makes.
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

// outOfFDs reports whether err is the process or the system running out
// of file descriptors, which says nothing about the file.
func outOfFDs(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)
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

// punch frees [off, off+n) of the file at path: the range reads as zeros
// afterwards and takes no disk space. The file keeps its size.
func punch(path string, off, n int64) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	for {
		err = unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return &fs.PathError{Op: "punch hole", Path: path, Err: err}
	}
	return nil
}

// makeDirs creates dir and dir/files; Put creates shard directories as
// it needs them.
func makeDirs(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, filesDir), 0o755); err != nil {
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
