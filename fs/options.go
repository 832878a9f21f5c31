package fs

import (
	"context"
	"log/slog"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
)

// Content reads verified bytes of an immutable file identified by its sha256.
type Content interface {
	// ReadAt fills p with bytes of file d (size bytes long) at off; n < len(p)
	// only at EOF. Errors are returned as-is (the FS maps them to EIO,
	// logging once).
	ReadAt(ctx context.Context, d digest.Digest, size int64, p []byte, off int64) (int, error)
}

// Backer is an optional interface of a Content: a local file holding every
// byte of a file, already verified, that the kernel can read directly (FUSE
// passthrough).
type Backer interface {
	// Backing returns a read-only descriptor of a local file whose bytes
	// [0, size) are exactly file d's, verified, and stay so until release is
	// called. ok is false when no such file is at hand (the file is not
	// wholly cached, say). The caller must not close fd; release (called
	// exactly once) ends the caller's use of it. Backing may do I/O and must
	// be safe for concurrent use.
	Backing(ctx context.Context, d digest.Digest, size int64) (fd int, release func(), ok bool)
}

// Lender is an optional interface of a Content: a read answered without
// copying the bytes into the FUSE layer's buffer. Lend covers min(n,
// size-off) bytes from off; they are bufs (verified bytes in memory), or,
// when bufs is nil, the bytes load took from a local file the Content
// vouches for without reading it (load gets the descriptor and offset,
// splices that many bytes into a pipe and reports whether it took them
// all). release (called exactly once, after the reply was sent) ends the
// loan. A nil release with a nil error means "use ReadAt"; whatever load
// took is then discarded, as it is when bufs are returned. Errors are as
// for ReadAt.
type Lender interface {
	Lend(ctx context.Context, d digest.Digest, size, off int64, n int, load func(fd int, off int64) bool) (bufs [][]byte, release func(), err error)
}

// Default timeouts; see the package documentation for what each one caches.
const (
	DefaultEntryTimeout    = time.Hour
	DefaultAttrTimeout     = time.Hour
	DefaultDirTimeout      = time.Second
	DefaultNegativeTimeout = 10 * time.Second
)

// StatusXattr is the extended attribute of the mount's root directory that
// returns Options.Status.
const StatusXattr = "user.bootfs.status"

// Options configures a Root. For every timeout, zero means the default and a
// negative value means "do not cache".
type Options struct {
	// EntryTimeout is how long the kernel may trust that a file name points
	// to the same inode. Update invalidates changed names at once, so this
	// only bounds staleness if a notification is lost. Default 1h.
	EntryTimeout time.Duration
	// AttrTimeout is how long the kernel caches a file's attributes. A
	// file inode's attributes never change. Default 1h.
	AttrTimeout time.Duration
	// DirTimeout is the entry and attribute timeout of directories.
	// Default 1s.
	DirTimeout time.Duration
	// NegativeTimeout is how long the kernel caches a failed lookup. Update
	// invalidates names that appear. Default 10s.
	NegativeTimeout time.Duration
	// Log receives read errors (once per file and kind of error) and
	// notification failures. Default: discard.
	Log *slog.Logger
	// Status, if set, is returned by getxattr("user.bootfs.status") on the
	// root (JSON bytes); `bootfs status MOUNTPOINT` reads it this way. It is
	// called for every getxattr, size queries included, and must be fast.
	Status func() ([]byte, error)
	// Passthrough serves files a Backer can back by FUSE passthrough (see
	// the package documentation); it has no effect unless the Content
	// implements Backer. It needs CAP_SYS_ADMIN, otherwise go-fuse silently
	// falls back to ordinary reads (logged once). Default false.
	Passthrough bool
}

// withDefaults applies the documented zero-value defaults in one place.
func (o Options) withDefaults() Options {
	o.EntryTimeout = timeout(o.EntryTimeout, DefaultEntryTimeout)
	o.AttrTimeout = timeout(o.AttrTimeout, DefaultAttrTimeout)
	o.DirTimeout = timeout(o.DirTimeout, DefaultDirTimeout)
	o.NegativeTimeout = timeout(o.NegativeTimeout, DefaultNegativeTimeout)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

func timeout(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}
