package reader

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/cache"
)

// fdLender is implemented by caches that can lend a range of a cached
// block's content file for the kernel to splice (*cache.Cache on Linux);
// see cache.Cache.LendFD for when it may.
type fdLender interface {
	LendFD(k cache.Key, off int64, n int, load func(fd int, fileOff int64) bool) (release func(), ok bool)
}

// Lend serves a read the way ReadAt does, without copying the bytes into a
// buffer of the caller's: the caller sends them (a FUSE reply) and then
// calls release, exactly once. The read covers min(n, size-off) bytes from
// off. They are bufs, verified blocks held in memory (one slice per block,
// which stay while lent), or, when bufs is nil, bytes that load (if not
// nil) took from a cache content file without this process reading them
// (load gets the file's descriptor and the offset of those bytes in it;
// see cache.Cache.LendFD): only where the cache would have served them
// without checking (trusted chunks, every page in the page cache, still
// trusted after load). Nothing is lent from the disk cache with
// VerifyCacheHits, where every block read from it is hashed.
//
// release is nil, with a nil error, when Lend cannot lend the bytes
// without reading them itself (off at or past the end, a part of a block
// that is neither in memory nor lendable from the cache, or load failed):
// the caller then discards whatever load took and uses ReadAt. On error
// nothing is lent; errors are ReadAt's.
func (r *Reader) Lend(ctx context.Context, d digest.Digest, size, off int64, n int, load func(fd int, fdOff int64) bool) (bufs [][]byte, release func(), err error) {
	if off < 0 {
		return nil, nil, fmt.Errorf("read %s: negative offset %d", d.Short(12), off)
	}
	if off >= size || n <= 0 {
		return nil, nil, nil
	}
	f, err := r.file(ctx, d, size)
	if err != nil {
		return nil, nil, err
	}
	end := min(off+int64(n), size)
	r.noteRead(f, off, end)
	first, last := off/digest.BlockSize, (end-1)/digest.BlockSize

	if first == last {
		i := first
		lo := off - i*digest.BlockSize
		k := cache.Key{File: f.d, Index: i}
		if b := r.mem.get(k); b != nil {
			r.st.hits.Add(1)
			return [][]byte{b.Value.bytes()[lo : end-i*digest.BlockSize]}, func() { r.mem.release(b) }, nil
		}
		if l, ok := r.cache.(fdLender); ok && load != nil && !r.verifyHits {
			if rel, ok := l.LendFD(k, lo, int(end-off), load); ok {
				r.st.hits.Add(1)
				return nil, rel, nil
			}
		}
		if _, ok := r.cache.(rangeReader); ok && !r.verifyHits && int(end-off) != f.blockLen(i) {
			// ReadAt reads just this part from the disk cache if it
			// holds the block, rather than the whole block.
			return nil, nil, nil
		}
	}

	blocks := make([]*block, last-first+1)
	errs := make([]error, len(blocks))
	var g errgroup.Group
	g.SetLimit(r.maxFetches)
	for i := first; i <= last; i++ {
		g.Go(func() error {
			blocks[i-first], errs[i-first] = r.foreground(ctx, f, i)
			return nil
		})
	}
	g.Wait()
	releaseAll := func() {
		for _, b := range blocks {
			if b != nil {
				r.mem.release(b)
			}
		}
	}
	for k, err := range errs {
		if err != nil {
			releaseAll()
			return nil, nil, fmt.Errorf("read %s at %d: %w", d.Short(12), max((first+int64(k))*digest.BlockSize, off), err)
		}
	}
	bufs = make([][]byte, len(blocks))
	for k, b := range blocks {
		i := first + int64(k)
		lo := max(i*digest.BlockSize, off) - i*digest.BlockSize
		hi := min((i+1)*digest.BlockSize, end) - i*digest.BlockSize
		bufs[k] = b.Value.bytes()[lo:hi]
	}
	return bufs, releaseAll, nil
}
