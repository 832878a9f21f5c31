package region

import (
	"context"
	"errors"
	"fmt"

	"github.com/bootfs/bootfs/region/tree"
)

// collect retires sets no source selects any more, deletes sets superseded
// by a newer set complete on every region and sets retired CleanupGrace
// ago, then blobs no set references, then this region's copies of them
// (and of blobs another region's cleanup deleted). It runs
// under the importer's lock, so it never races an import or a peer copy of
// this region (which could commit a file just before its row exists): see
// regionsync.Lock for the rule.
func (r *Region) collect(ctx context.Context) error {
	return r.importer.Syncer().Lock().Exclusive(func() error { return r.collectLocked(ctx) })
}

func (r *Region) collectLocked(ctx context.Context) error {
	if err := r.retire(ctx); err != nil {
		return fmt.Errorf("retire sets no source selects: %w", err)
	}
	snap, err := r.db.Snapshot(ctx)
	if err != nil {
		return err
	}
	res := tree.Build(snap, r.cfg.AliveWindow, r.cfg.CleanupGrace)
	if err := r.db.DeleteSets(ctx, res.Obsolete); err != nil {
		return err
	}
	retired, err := r.db.DeleteRetiredSets(ctx, r.cfg.CleanupGrace)
	if err != nil {
		return err
	}
	gone, err := r.db.DeleteOrphanBlobs(ctx)
	if err != nil {
		return fmt.Errorf("delete unreferenced blobs (retried after the next import): %w", err)
	}
	var errs []error
	for _, d := range gone {
		errs = append(errs, r.store.Remove(d))
	}
	// Another region may have deleted blob rows this region still has
	// files of: drop files the database no longer knows. List the files
	// first, then read what is known: a blob deleted and re-imported in
	// between is then known, and a file committed after the listing is
	// not looked at.
	local := r.store.List()
	known, err := r.db.KnownBlobs(ctx)
	if err != nil {
		return err
	}
	removed := 0
	for _, d := range local {
		if _, ok := known[d]; !ok {
			errs = append(errs, r.store.Remove(d))
			removed++
		}
	}
	if len(res.Obsolete) > 0 || retired > 0 || len(gone) > 0 || removed > 0 {
		r.log.Info("cleaned up", "sets", len(res.Obsolete), "retired_sets", retired, "blobs", len(gone), "files_removed", removed+len(gone))
	}
	return errors.Join(errs...)
}
