package reader

import (
	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/cache"
)

// seqState is the access pattern of one file. Guarded by Reader.mu.
type seqState struct {
	next    int64 // where the last read ended
	horizon int64 // the highest block read or scheduled for readahead
}

// noteRead records a read of [off, end) of f and, if it is sequential,
// starts background loads of the blocks up to Readahead past it that are
// not loaded or scheduled yet. A read is sequential when it starts at 0 or
// in (or next to) the block where the previous read ended. Readahead only
// takes free fetch slots: when none is free, the blocks are left to the
// foreground (and retried by the next sequential read).
func (r *Reader) noteRead(f *file, off, end int64) {
	if r.readahead == 0 {
		return
	}
	last := (end - 1) / digest.BlockSize
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	st, ok := r.seq.Get(f.d)
	if !ok {
		st = &seqState{horizon: -1}
		r.seq.Add(f.d, st)
	}
	near := ok && abs(off/digest.BlockSize-st.next/digest.BlockSize) <= 1
	st.next = end
	if !near {
		st.horizon = last
		if off != 0 {
			return
		}
	}
	st.horizon = max(st.horizon, last)
	stop := min(last+int64(r.readahead), int64(len(f.bd.Blocks))-1)
	for i := st.horizon + 1; i <= stop; i++ {
		if r.mem.has(cache.Key{File: f.d, Index: i}) {
			st.horizon = i
			continue
		}
		if !r.raSem.TryAcquire(1) {
			return
		}
		if !r.sem.TryAcquire(1) {
			r.raSem.Release(1)
			return
		}
		st.horizon = i
		r.wg.Add(1)
		go r.prefetch(f, i)
	}
}

// prefetch loads block i of f into memory (and the disk cache). It holds a
// fetch slot and a readahead slot, taken by noteRead.
func (r *Reader) prefetch(f *file, i int64) {
	defer r.wg.Done()
	defer r.raSem.Release(1)
	defer r.sem.Release(1)
	b, _, err := r.shared(r.ctx, f, i, true)
	if err == nil {
		r.mem.release(b)
		return
	}
	if r.ctx.Err() == nil {
		// The foreground read of this block will report the error.
		r.log.Debug("readahead failed", "sha256", f.d.String(), "block", i, "err", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.seq.Peek(f.d); ok && st.horizon >= i {
		st.horizon = i - 1
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
