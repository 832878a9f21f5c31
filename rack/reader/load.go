package reader

import (
	"context"
	"encoding/binary"
	"fmt"

	"golang.org/x/sync/singleflight"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/cache"
)

// maxAttempts bounds how often a reader retries a block that was evicted
// from memory between its load and the reader taking a reference (which
// needs MemoryBlocks other blocks loaded in that instant).
const maxAttempts = 8

// foreground returns block i of f, acquired, for a read, and counts it as a
// hit or a miss.
func (r *Reader) foreground(ctx context.Context, f *file, i int64) (*block, error) {
	if b := r.mem.get(cache.Key{File: f.d, Index: i}); b != nil {
		r.st.hits.Add(1)
		return b, nil
	}
	b, fetched, err := r.shared(ctx, f, i, false)
	if err != nil {
		return nil, err
	}
	if fetched {
		r.st.misses.Add(1)
	} else {
		r.st.hits.Add(1)
	}
	return b, nil
}

// loaded is the result of one block load, shared by all who waited on it.
type loaded struct {
	b       *block
	fetched bool // from a region rather than memory or the disk cache
}

// shared returns block i of f, acquired, loading it at most once however
// many callers want it at the same time. ahead marks a readahead, which
// already holds a fetch slot. It returns whether the block came from a
// region.
func (r *Reader) shared(ctx context.Context, f *file, i int64, ahead bool) (*block, bool, error) {
	k := cache.Key{File: f.d, Index: i}
	for range maxAttempts {
		if b := r.mem.get(k); b != nil {
			return b, false, nil
		}
		ch := r.flights.DoChan(flightKey(k), func() (any, error) { return r.load(f, i, ahead) })
		var res singleflight.Result
		select {
		case res = <-ch:
		case <-ctx.Done():
			return nil, false, context.Cause(ctx)
		}
		if res.Err != nil {
			return nil, false, res.Err
		}
		l := res.Val.(loaded)
		if r.mem.acquire(l.b) {
			return l.b, l.fetched, nil
		}
	}
	return nil, false, fmt.Errorf("block %d evicted from memory %d times before it could be read (MemoryBlocks too small for the load)", i, maxAttempts)
}

func flightKey(k cache.Key) string {
	var b [digest.Size + 8]byte
	copy(b[:], k.File[:])
	binary.LittleEndian.PutUint64(b[digest.Size:], uint64(k.Index))
	return string(b[:])
}

// load brings block i of f into memory, from the disk cache or a region, and
// returns it (not acquired). It runs once per flight, detached from any
// caller's context. ahead: the caller holds a fetch slot already.
func (r *Reader) load(f *file, i int64, ahead bool) (any, error) {
	if !r.track() {
		return nil, ErrClosed
	}
	defer r.wg.Done()
	k := cache.Key{File: f.d, Index: i}
	if b := r.mem.peek(k); b != nil {
		return loaded{b: b}, nil
	}
	n, want := f.blockLen(i), f.bd.Blocks[i]
	buf := r.mem.getBuf()
	if got, ok := r.cache.Get(k, *buf); ok {
		switch {
		case got != n:
			r.st.verifyFailures.Add(1)
			r.log.Warn("block cache returned a block of the wrong size; fetching it again", "sha256", f.d.String(), "block", i, "size", got, "want", n)
		case r.verifyHits && digest.BlockSum(f.bd.Algorithm, (*buf)[:n]) != want:
			r.st.verifyFailures.Add(1)
			r.log.Warn("block cache returned a corrupt block; fetching it again", "sha256", f.d.String(), "block", i)
		default:
			return loaded{b: r.mem.insert(k, buf, n)}, nil
		}
	}
	if !ahead {
		// Hold no buffer while queueing for a slot.
		r.mem.putBuf(buf)
		if err := r.sem.Acquire(r.ctx, 1); err != nil {
			return nil, ErrClosed
		}
		buf = r.mem.getBuf()
	}
	r.st.inFlight.Add(1)
	_, err := r.cl.FetchBlockOf(r.ctx, f.d, i*digest.BlockSize, (*buf)[:n], f.bd.Algorithm, want, f.holders)
	r.st.inFlight.Add(-1)
	if !ahead {
		r.sem.Release(1)
	}
	if err != nil {
		r.mem.putBuf(buf)
		if r.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("block %d: %w", i, err)
	}
	r.unverify(f.d)
	r.st.fetches.Add(1)
	r.st.bytes.Add(int64(n))
	if ahead {
		r.st.readahead.Add(1)
	}
	r.put(k, (*buf)[:n])
	return loaded{b: r.mem.insert(k, buf, n), fetched: true}, nil
}

// put stores a verified block in the disk cache. A failure is counted and
// logged (a warning when writes start failing, then at debug level) and
// otherwise ignored: the block is served from memory all the same.
func (r *Reader) put(k cache.Key, data []byte) {
	err := r.cache.Put(k, data)
	if err == nil {
		if r.putFailing.Swap(false) {
			r.log.Info("block cache writes work again")
		}
		return
	}
	r.st.putErrors.Add(1)
	if !r.putFailing.Swap(true) {
		r.log.Warn("block cache write failed; serving blocks from the network until it works again", "sha256", k.File.String(), "block", k.Index, "err", err)
		return
	}
	r.log.Debug("block cache write failed", "sha256", k.File.String(), "block", k.Index, "err", err)
}
