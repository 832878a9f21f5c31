package fs

import (
	"os"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/hanwen/go-fuse/v2/splice"
)

// pipeLoad is a lent file range spliced into a pipe: the pipe holds
// references to the file's pages, not copies, and go-fuse splices them on
// into /dev/fuse. Loading the pipe here, rather than handing go-fuse the
// file range, lets the lender check its trust after the kernel took the
// pages, and keeps a short splice (an I/O error on a page read back from
// the disk) from becoming a short reply, which the kernel would take for
// the end of the file.
type pipeLoad struct {
	p *splice.Pair
	n int
}

// loadPipe splices bytes [off, off+n) of fd into a pipe; nil if it could
// not take all of them.
func loadPipe(fd int, off int64, n int) *pipeLoad {
	p, err := splice.Get()
	if err != nil {
		return nil
	}
	if err := p.Grow(n + os.Getpagesize()); err != nil {
		splice.Done(p)
		return nil
	}
	if k, err := p.LoadFromAt(uintptr(fd), n, off); err != nil || k != n {
		splice.Drop(p) // may hold part of the range
		return nil
	}
	return &pipeLoad{p: p, n: n}
}

// drop discards the pipe and what it holds.
func (l *pipeLoad) drop() { splice.Drop(l.p) }

// result is the FUSE reply from the pipe; release runs when it was sent.
func (l *pipeLoad) result(release func()) fuse.ReadResult {
	return &pipeResult{p: l.p, n: l.n, release: release}
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
