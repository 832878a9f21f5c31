package sync

import (
	"context"
	"errors"
	"time"

	"github.com/bootfs/bootfs/region/db"
)

// LoopOptions configure Loop.
type LoopOptions struct {
	// Interval is how often to look for missing files without being told.
	Interval time.Duration
	// After runs after each sync that was not skipped (the region
	// recomputes its tree and cleans up).
	After func(ctx context.Context)
}

// Loop copies what this region lacks from its peers (or, for files no
// region has yet, from upstream under a claim), whenever any region
// announces a change and at Interval. This is how a region catches up
// after being down, and how regions that did not run the import get the
// files of a new set. A round is skipped while an import runs (it
// converges too). Loop returns when ctx ends.
func (s *Syncer) Loop(ctx context.Context, o LoopOptions) error {
	poke := make(chan struct{}, 1)
	kick := func() {
		select {
		case poke <- struct{}{}:
		default:
		}
	}
	s.cfg.DB.Watch(ctx, s.log, func(payload string) {
		switch payload {
		case "set", "sync", "region", db.Reconnected:
			kick()
		}
	})
	t := time.NewTicker(o.Interval)
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
		wants, err := s.cfg.DB.Wanted(ctx, s.cfg.RegionID)
		if err != nil || len(wants) == 0 {
			continue
		}
		err = s.Sync(ctx)
		if errors.Is(err, ErrBusy) || ctx.Err() != nil {
			continue
		}
		if err != nil {
			s.log.Error("sync from peers failed", "err", err)
		}
		if o.After != nil {
			o.After(ctx)
		}
	}
}
