package reader

import (
	"context"
	"fmt"

	"github.com/bootfs/bootfs/internal/digest"
)

// PrefetchBlock loads block i of file d (size bytes, as the tree says) into
// the disk cache at low priority, for the rack's prefetcher: it waits for a
// readahead slot and a fetch slot (so foreground loads always keep a quarter
// of the fetch slots, see NewReader), takes no readahead of its own and
// counts no hit or miss. The block goes through the same verified path as
// any read (only bytes matching the region's block digest are stored). It
// returns how many bytes came from a region (0 when the block was in memory
// or in the disk cache already).
func (r *Reader) PrefetchBlock(ctx context.Context, d digest.Digest, size, i int64) (int, error) {
	if r.ctx.Err() != nil {
		return 0, ErrClosed
	}
	bd, err := r.blockDigests(ctx, d)
	if err != nil {
		return 0, fmt.Errorf("prefetch %s: %w", d.Short(12), err)
	}
	if err := r.badFile(d, bd); err != nil {
		return 0, fmt.Errorf("prefetch %s: %w", d.Short(12), err)
	}
	if bd.Size != size {
		return 0, fmt.Errorf("prefetch %s: %w: %d bytes, regions say %d", d.Short(12), ErrSizeMismatch, size, bd.Size)
	}
	if i < 0 || i >= int64(len(bd.Blocks)) {
		return 0, fmt.Errorf("prefetch %s: block %d out of range", d.Short(12), i)
	}
	if err := r.raSem.Acquire(ctx, 1); err != nil {
		return 0, err
	}
	defer r.raSem.Release(1)
	if err := r.sem.Acquire(ctx, 1); err != nil {
		return 0, err
	}
	defer r.sem.Release(1)
	f := &file{d: d, size: size, bd: bd, holders: r.holdersOf(d)}
	b, fetched, err := r.shared(ctx, f, i, true)
	if err != nil {
		return 0, err
	}
	r.mem.release(b)
	if !fetched {
		return 0, nil
	}
	return f.blockLen(i), nil
}
