package sync

import (
	"context"
	"errors"
	"time"
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
// converges too), and while an operator has stopped imports (Stop): a
// sync would resume the stopped downloads. Loop returns when ctx ends.
func (s *Syncer) Loop(ctx context.Context, o LoopOptions) error {
	s.cfg.DB.Rounds(ctx, s.log, o.Interval, []string{"set", "sync", "region"}, func() {
		wants, err := s.cfg.DB.Wanted(ctx, s.cfg.RegionID)
		if err != nil || len(wants) == 0 {
			return
		}
		err = s.Sync(ctx)
		if errors.Is(err, ErrBusy) || errors.Is(err, ErrStopped) || ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.Error("sync from peers failed", "err", err)
		}
		if o.After != nil {
			o.After(ctx)
		}
	})
	return nil
}
