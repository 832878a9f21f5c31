package region

import (
	"context"
	"fmt"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
)

// reconcile runs at start-up: it compares the store with what the database
// says this region holds, without re-hashing. Files that are ours but
// unknown are removed; known files that are missing or of the wrong size
// are forgotten so they are fetched again; complete files the database does
// not yet count (a crash between rename and the database write) are
// counted, since a final name is only ever given to verified bytes.
func (r *Region) reconcile(ctx context.Context) error {
	start := time.Now()
	known, err := r.db.KnownBlobs(ctx)
	if err != nil {
		return err
	}
	held, err := r.db.Held(ctx, r.id)
	if err != nil {
		return err
	}
	rep, err := r.store.Reconcile(known)
	if err != nil {
		return err
	}
	absent := map[digest.Digest]bool{}
	var forget []digest.Digest
	for _, d := range rep.Missing {
		absent[d] = true
		if _, ok := held[d]; ok {
			forget = append(forget, d)
		}
	}
	for _, d := range rep.WrongSize {
		// store.Reconcile has quarantined it already.
		absent[d] = true
		if _, ok := held[d]; ok {
			forget = append(forget, d)
		}
	}
	if err := r.db.Forget(ctx, r.id, forget); err != nil {
		return err
	}
	adopted := 0
	for d, size := range known {
		if absent[d] {
			continue
		}
		if _, ok := held[d]; ok {
			continue
		}
		if err := r.adopt(ctx, d, size); err != nil {
			return err
		}
		adopted++
	}
	r.log.Info("start-up reconcile", "removed", len(rep.Removed), "forgotten", len(forget), "adopted", adopted,
		"foreign_kept", len(rep.Foreign), "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// adopt counts a complete stored file the database did not know this region
// held, computing its block digests if no region stored them yet.
func (r *Region) adopt(ctx context.Context, d digest.Digest, size int64) error {
	if _, _, _, err := r.db.BlockDigests(ctx, d); err != nil {
		_, blocks, err := r.store.Hash(ctx, d, 0)
		if err != nil {
			return fmt.Errorf("hash %s: %w", d, err)
		}
		if err := r.db.SetBlockDigests(ctx, d, digest.BlockSize, blocks); err != nil {
			return err
		}
	}
	return r.db.MarkHeld(ctx, r.id, d, size)
}

// recordBlocks records the block digests (of digest.BlockAlgorithm) the
// background verifier computed for d, if none of that algorithm are
// recorded yet: that is how files stored by an earlier release get BLAKE3
// block digests, at the verifier's rate. A failure is logged; the next
// pass tries again.
func (r *Region) recordBlocks(ctx context.Context, d digest.Digest, blocks []digest.Digest) {
	if err := r.db.SetBlockDigests(ctx, d, digest.BlockSize, blocks); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("cannot record block digests computed by the verifier", "sha256", d, "err", err)
		}
		return
	}
	r.api.BlockDigestsRecorded(d)
}
