package store

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/bootfs/bootfs/internal/digest"
)

// copyBufSize is the buffer of Put's copy loop: large, so that each Write
// is one big write(2) and one long run of sha256.
const copyBufSize = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

// Put writes a whole blob read from r (from byte 0: a partial file left by
// an earlier attempt is thrown away, not re-hashed) through Begin and
// Commit, and returns the block digests. Too few or too many bytes, or the
// wrong sha256, give ErrCorrupt. On any failure the partial file is
// removed (use Begin to keep one for resuming). Cancelling ctx stops the
// copy between two reads; a Read blocked in r is not interrupted, so r
// should be tied to ctx too (an HTTP response body of a request made with
// ctx is).
func (d *Disk) Put(ctx context.Context, want digest.Digest, size int64, r io.Reader) ([]digest.Digest, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := d.begin(want, size, false)
	if err != nil {
		return nil, err
	}
	p.dropOnError = true
	if _, err := p.ReadFromContext(ctx, r); err != nil {
		return nil, errors.Join(err, p.Discard())
	}
	return p.Commit()
}

// ReadFromContext is ReadFrom (io.CopyBuffer with a 1 MiB buffer) that
// checks ctx before every read of r and stops with ctx's error once it is
// done. A Read blocked in r is not interrupted, so r should be tied to ctx
// too (an HTTP request or response body is).
func (p *Pending) ReadFromContext(ctx context.Context, r io.Reader) (int64, error) {
	return p.ReadFrom(&ctxReader{ctx: ctx, r: r})
}

// ctxReader fails reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
