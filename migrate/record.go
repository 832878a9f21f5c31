package migrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// errRotted: a stored file no longer hashes to its name; it was
// quarantined and must be exported again.
var errRotted = errors.New("stored file rotted")

// recordSets writes every set and its files to the region database. It is
// idempotent: sets and files are upserted.
func recordSets(ctx context.Context, d *db.DB, inv *inventory) error {
	for _, s := range inv.sets {
		if _, err := d.RecordSet(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// markHeld records the block digests of a stored content (computing them
// from the file when none are known yet and the caller has none) and that
// this region holds it.
func markHeld(ctx context.Context, d *db.DB, st *store.Disk, regionID int64, c *content, blocks []digest.Digest) error {
	if blocks == nil {
		_, _, _, err := d.BlockDigests(ctx, c.sha)
		switch {
		case errors.Is(err, db.ErrNotFound):
			// Stored by an earlier run killed before it recorded them.
			var whole digest.Digest
			whole, blocks, err = st.Hash(ctx, c.sha, 0)
			if err != nil {
				return fmt.Errorf("hash %s: %w", c.sha, err)
			}
			if whole != c.sha {
				// The file rotted since it was written: quarantine it
				// and let the caller export it again.
				if err := st.Quarantine(c.sha, "hash mismatch found by the migration"); err != nil {
					return err
				}
				return fmt.Errorf("%w: stored %s hashes to %s", errRotted, c.sha, whole)
			}
		case err != nil:
			return err
		}
	}
	if blocks != nil {
		if err := d.SetBlockDigests(ctx, c.sha, digest.BlockSize, blocks); err != nil {
			return fmt.Errorf("record block digests of %s: %w", c.sha, err)
		}
	}
	return d.MarkHeld(ctx, regionID, c.sha, c.size)
}
