package region

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/importer"
	regionsync "github.com/bootfs/bootfs/region/sync"
)

// importLoop imports at start (when asked), on request and periodically,
// and cleans up after each import. While an operator has stopped imports
// (import --stop) nothing starts by itself: not at start, not periodically.
func (r *Region) importLoop(ctx context.Context) error {
	if r.cfg.ImportOnStart {
		if r.importer.Syncer().Stopped() {
			r.log.Info("imports are stopped by an operator (bootfs-region import --stop): not importing at start; `bootfs-region import` starts again")
		} else {
			r.kickImport()
		}
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
		if errors.Is(err, importer.ErrStopped) {
			// Stopped now, or refused to start while stopped: not a
			// failure. What was fetched before the stop is published.
			r.afterRun(ctx)
			continue
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

// StartImport is an operator asking for an import now (POST
// /api/v1/import, `bootfs-region import`): it withdraws a pending stop on
// every region (they hear it through PostgreSQL) and asks the import loop
// to run.
func (r *Region) StartImport() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.db.ClearImportStop(ctx); err != nil {
		return fmt.Errorf("withdraw the import stop: %w", err)
	}
	r.importer.Resume()
	r.kickImport()
	return nil
}

// kickImport asks the import loop to run an import now. It does not
// withdraw an operator's stop (the import then refuses to start): a
// region's own reasons to import, such as a quarantined file, wait for the
// operator's next `bootfs-region import`.
func (r *Region) kickImport() {
	select {
	case r.kick <- struct{}{}:
	default: // one is already pending
	}
}

// StopImport is an operator stopping imports (POST /api/v1/import/stop,
// `bootfs-region import --stop`): the stop is recorded in PostgreSQL and
// announced, so every region ends its running import or sync (stopLoop);
// this region ends its own at once. Partial downloads stay on disk and the
// next `bootfs-region import` resumes them.
func (r *Region) StopImport(ctx context.Context) error {
	if err := r.db.RequestImportStop(ctx, r.cfg.Name); err != nil {
		return err
	}
	r.importer.Stop()
	r.log.Info("imports stopped by an operator on every region")
	return nil
}

// stopLoop applies the operator's stop and its withdrawal, announced by
// any region through PostgreSQL, to this region's importer (and looks
// again whenever the listening connection comes back).
func (r *Region) stopLoop(ctx context.Context) error {
	poke := make(chan struct{}, 1)
	r.db.Watch(ctx, r.log, func(payload string) {
		switch payload {
		case db.Reconnected, db.PayloadImportStop, db.PayloadImportResume:
			select {
			case poke <- struct{}{}:
			default:
			}
		}
	})
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poke:
		}
		r.applyImportStop(ctx)
	}
}

// applyImportStop stops or resumes this region's importer as the database
// says (the one truth every region reads).
func (r *Region) applyImportStop(ctx context.Context) {
	st, stopped, err := r.db.PendingImportStop(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("read the operator's import stop", "err", err)
		}
		return
	}
	was := r.importer.Syncer().Stopped()
	switch {
	case stopped && !was:
		r.importer.Stop()
		r.log.Info("imports stopped by an operator", "requested", st.Requested, "at_region", st.ByRegion)
	case !stopped && was:
		r.importer.Resume()
		r.log.Info("imports may run again")
	}
}
