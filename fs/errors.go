package fs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/bootfs/bootfs/internal/digest"
)

// maxErrKeys bounds the memory errOnce uses; when full it forgets everything
// and logs each kind once more.
const maxErrKeys = 4096

// errOnce remembers which (file, kind of error) pairs were already logged, so
// a failing file logs once, not once per read (the kernel retries failed
// readahead page by page).
type errOnce struct {
	mu   sync.Mutex // guards seen
	seen map[errKey]struct{}
}

type errKey struct {
	d    digest.Digest
	kind string
}

// first reports whether k is new, and remembers it.
func (e *errOnce) first(k errKey) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.seen[k]; ok {
		return false
	}
	if e.seen == nil || len(e.seen) >= maxErrKeys {
		e.seen = make(map[errKey]struct{})
	}
	e.seen[k] = struct{}{}
	return true
}

// errKind classifies err by its innermost error's type and text, so the same
// failure at different offsets counts as one kind when the offset lives only
// in the wrapping.
func errKind(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	return fmt.Sprintf("%T: %v", err, err)
}

// readFailed maps a failed read to its errno: EINTR if the kernel
// interrupted the request (nothing logged), else EIO, logged once per file
// and kind of error.
func (r *Root) readFailed(ctx context.Context, f *fileInfo, off int64, err error) syscall.Errno {
	if ctx.Err() != nil {
		r.stats.interrupted.Add(1)
		return syscall.EINTR
	}
	r.stats.readErrors.Add(1)
	if r.errs.first(errKey{d: f.digest, kind: errKind(err)}) {
		r.log.Error("read failed, returning EIO; further errors of this kind for this file are not logged",
			"path", f.path, "sha256", f.digest.String(), "offset", off, "err", err)
	}
	return syscall.EIO
}
