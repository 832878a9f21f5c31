package region

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/region/importer"
	"github.com/bootfs/bootfs/region/tree"
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

// importLoop imports at start (when asked), on request and periodically,
// and cleans up after each import.
func (r *Region) importLoop(ctx context.Context) error {
	if r.cfg.ImportOnStart {
		_ = r.StartImport()
	}
	var tick <-chan time.Time
	if r.cfg.ImportInterval > 0 {
		t := time.NewTicker(r.cfg.ImportInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.kick:
		case <-tick:
		}
		err := r.importer.Run(ctx)
		for errors.Is(err, importer.ErrBusy) {
			// A peer sync is running: the import must not be lost.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
			err = r.importer.Run(ctx)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.log.Error("import failed", "err", err)
		}
		if err := r.tree.Refresh(ctx); err != nil {
			r.log.Warn("recompute boot tree", "err", err)
		}
		if err := r.collect(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("clean up old resource sets", "err", err)
		}
	}
}

// syncLoop copies what this region lacks from its peers (or, for files no
// region has yet, from upstream under a claim), whenever any region
// announces a change and at SyncInterval. This is how a region catches up
// after being down, and how regions that did not run the import get the
// files of a new set.
func (r *Region) syncLoop(ctx context.Context) error {
	poke := make(chan struct{}, 1)
	kick := func() {
		select {
		case poke <- struct{}{}:
		default:
		}
	}
	go func() {
		for ctx.Err() == nil {
			err := r.db.Listen(ctx, kick, func(payload string) {
				if payload == "set" || payload == "sync" || payload == "region" {
					kick()
				}
			})
			if err != nil && ctx.Err() == nil {
				r.log.Warn("listen for sync triggers failed; retrying", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Second):
				}
			}
		}
	}()
	t := time.NewTicker(r.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poke:
		case <-t.C:
		}
		// Let a burst of announcements settle.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
		wants, err := r.db.Wanted(ctx, r.id)
		if err != nil || len(wants) == 0 {
			continue
		}
		err = r.importer.Sync(ctx)
		if errors.Is(err, importer.ErrBusy) || ctx.Err() != nil {
			continue
		}
		if err != nil {
			r.log.Error("sync from peers failed", "err", err)
		}
		if err := r.tree.Refresh(ctx); err != nil {
			r.log.Warn("recompute boot tree", "err", err)
		}
		if err := r.collect(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("clean up old resource sets", "err", err)
		}
	}
}

// collect deletes sets superseded by a newer set complete on every region,
// then blobs no set references, then this region's copies of them. It runs
// under the importer's lock, so it never races an import or a peer copy of
// this region (which could commit a file just before its row exists).
func (r *Region) collect(ctx context.Context) error {
	return r.importer.Exclusive(func() error { return r.collectLocked(ctx) })
}

func (r *Region) collectLocked(ctx context.Context) error {
	snap, err := r.db.Snapshot(ctx)
	if err != nil {
		return err
	}
	res := tree.Build(snap, r.cfg.AliveWindow, r.cfg.CleanupGrace)
	if err := r.db.DeleteSets(ctx, res.Obsolete); err != nil {
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
	if len(res.Obsolete) > 0 || len(gone) > 0 || removed > 0 {
		r.log.Info("cleaned up", "sets", len(res.Obsolete), "blobs", len(gone), "files_removed", removed+len(gone))
	}
	return errors.Join(errs...)
}
