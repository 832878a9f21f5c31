package tree

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/bootfs/bootfs/region/db"
)

// Watcher keeps the current Result up to date: it recomputes on every
// NOTIFY on db.ChangeChannel (from any region) and at a fixed interval (so
// region liveness shown in status stays current), and wakes long-polls when
// the tree's generation changes.
type Watcher struct {
	db       *db.DB
	log      *slog.Logger
	alive    time.Duration
	grace    time.Duration
	interval time.Duration

	refresh sync.Mutex // serialises Refresh: a slower, older snapshot must not overwrite a newer result

	mu      sync.Mutex      // guards cur and changed
	cur     Result          // latest computed result
	changed chan struct{}   // closed (and replaced) when cur's tree generation changes
	loaded  bool            // cur has been computed at least once
	warned  map[string]bool // Result.Refused entries already logged
}

// NewWatcher returns a Watcher; call Refresh or Run before Current.
// alive is the heartbeat age within which a region counts as alive.
func NewWatcher(d *db.DB, log *slog.Logger, alive, grace, interval time.Duration) *Watcher {
	return &Watcher{db: d, log: log, alive: alive, grace: grace, interval: interval, changed: make(chan struct{})}
}

// Current returns the latest result and a channel closed when the tree
// changes after it.
func (w *Watcher) Current() (Result, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur, w.changed
}

// Refresh recomputes the result now.
func (w *Watcher) Refresh(ctx context.Context) error {
	w.refresh.Lock()
	defer w.refresh.Unlock()
	snap, err := w.db.Snapshot(ctx)
	if err != nil {
		return err
	}
	res := Build(snap, w.alive, w.grace)
	if err := w.db.PublishSets(ctx, res.Publish); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	warned := make(map[string]bool, len(res.Refused))
	for _, r := range res.Refused {
		if !w.warned[r] {
			w.log.Warn("resource set left out of the boot tree: a path breaks the path rule; remove the set or fix its name", "set", r)
		}
		warned[r] = true
	}
	w.warned = warned
	if !w.loaded || res.Tree.Generation != w.cur.Tree.Generation {
		if w.loaded {
			w.log.Info("boot tree changed", "generation", res.Tree.Generation, "files", len(res.Tree.Files))
		}
		close(w.changed)
		w.changed = make(chan struct{})
	}
	w.cur, w.loaded = res, true
	return nil
}

// Run refreshes on notifications and on a timer until ctx is done.
func (w *Watcher) Run(ctx context.Context) error {
	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	w.db.Watch(ctx, w.log, func(string) { poke() })
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
			// Coalesce bursts of notifications (an import sends many).
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			select {
			case <-kick:
			default:
			}
		case <-t.C:
		}
		if err := w.Refresh(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("recompute boot tree failed", "err", err)
		}
	}
}
