package fs

import (
	"os"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/hanwen/go-fuse/v2/splice"
)

// pipeLoan splices the lent file range [off, off+n) of fd into a pipe and
// returns a reply go-fuse splices on from that pipe into /dev/fuse. Loading
// the pipe here, rather than handing go-fuse the file range, keeps a short
// splice (an I/O error on a page read back from the disk) from becoming a
// short reply, which the kernel would take for the end of the file: the
// caller then reads through Content instead (ok false, release called).
// The pipe holds references to the file's pages, not copies; release runs
// when the reply is sent.
func pipeLoan(fd int, off int64, n int, release func()) (fuse.ReadResult, bool) {
	p, err := splice.Get()
	if err != nil {
		release()
		return nil, false
	}
	if err := p.Grow(n + os.Getpagesize()); err != nil {
		splice.Done(p)
		release()
		return nil, false
	}
	k, err := p.LoadFromAt(uintptr(fd), n, off)
	if err != nil || k != n {
		splice.Drop(p) // may hold part of the range
		release()
		return nil, false
	}
	return &pipeResult{p: p, n: n, release: release}, true
}

// pipeResult is a reply preloaded in a pipe (go-fuse splices a result with
// Stateful, and falls back to Bytes, reading the pipe, when it cannot).
type pipeResult struct {
	p       *splice.Pair
	n       int
	release func()
}

func (r *pipeResult) Size() int { return r.n }

func (r *pipeResult) Stateful() (uintptr, int) { return r.p.ReadFd(), r.n }

func (r *pipeResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	if len(buf) < r.n {
		buf = make([]byte, r.n)
	}
	got := 0
	for got < r.n {
		k, err := r.p.Read(buf[got:r.n])
		if err != nil || k <= 0 {
			return nil, fuse.EIO
		}
		got += k
	}
	return buf[:r.n], fuse.OK
}

func (r *pipeResult) Done() {
	if r.p != nil {
		splice.Done(r.p)
		r.p = nil
		r.release()
	}
}
