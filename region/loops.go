package region

import (
	"context"
	"errors"
	"time"

	"github.com/bootfs/bootfs/region/importer"
	regionsync "github.com/bootfs/bootfs/region/sync"
)

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
		if failures, failed := regionsync.ProductFailures(err); failed {
			r.log.Error("import failed", "err", err)
		} else if len(failures) > 0 {
			r.log.Warn("import done; some products failed and stay incomplete", "err", err)
		}
		r.afterRun(ctx)
	}
}

// syncLoop runs the peer sync loop (region/sync): it copies what this
// region lacks whenever a region announces a change and at SyncInterval,
// then recomputes the tree and cleans up, as the import loop does.
func (r *Region) syncLoop(ctx context.Context) error {
	return r.importer.Syncer().Loop(ctx, regionsync.LoopOptions{Interval: r.cfg.SyncInterval, After: r.afterRun})
}

// afterRun recomputes the tree and cleans up after an import or sync.
func (r *Region) afterRun(ctx context.Context) {
	if err := r.tree.Refresh(ctx); err != nil {
		r.log.Warn("recompute boot tree", "err", err)
	}
	if err := r.collect(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("clean up old resource sets", "err", err)
	}
}

// cleanupLoop retires what no source selects any more as soon as sources
// change, and cleans up whenever sets change and at SyncInterval, so every
// region deletes its copies of what is gone (and retired sets go once their
// grace is over) without waiting for its next import or sync. A round finding
// an import, sync or cleanup running skips the cleanup: that run cleans up
// when it ends.
func (r *Region) cleanupLoop(ctx context.Context) error {
	r.db.Rounds(ctx, r.log, r.cfg.SyncInterval, []string{"source", "set"}, func() {
		if err := r.retire(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("retire sets no source selects", "err", err)
		}
		err := r.importer.Syncer().Lock().TryExclusive(func() error { return r.collectLocked(ctx) })
		if err != nil && !errors.Is(err, regionsync.ErrBusy) && ctx.Err() == nil {
			r.log.Warn("clean up old resource sets", "err", err)
		}
	})
	return nil
}
