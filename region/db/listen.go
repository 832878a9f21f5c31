package db

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Reconnected is the payload Watch delivers when its listening connection
// is (re)established: changes announced meanwhile may have been missed, so
// a watcher looks at everything again.
const Reconnected = ""

// watchers is the one LISTEN loop of a DB: every watcher shares one
// listening connection, opened while there are watchers.
type watchers struct {
	mu        sync.Mutex // guards the fields below
	fns       map[int]func(string)
	next      int
	connected bool               // the listening connection of loop gen is up
	gen       int                // counts the loops started; the running one is gen
	stop      context.CancelFunc // ends the loop; nil when it is not running
	log       *slog.Logger       // the first watcher's
}

// Rounds calls round whenever one of payloads (or Reconnected) is
// announced on ChangeChannel, and every interval, each time after letting a
// burst of announcements settle for 200ms, until ctx is done.
func (d *DB) Rounds(ctx context.Context, log *slog.Logger, interval time.Duration, payloads []string, round func()) {
	poke := make(chan struct{}, 1)
	d.Watch(ctx, log, func(payload string) {
		if payload == Reconnected || slices.Contains(payloads, payload) {
			select {
			case poke <- struct{}{}:
			default:
			}
		}
	})
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poke:
		case <-t.C:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		round()
	}
}

// Watch calls fn with each payload announced on ChangeChannel (by any
// region), and with Reconnected when the listening connection comes up,
// until ctx is done. Every watcher of d shares one connection, which is
// reconnected with an exponential backoff when it breaks (failures are
// logged to log). fn must not block.
func (d *DB) Watch(ctx context.Context, log *slog.Logger, fn func(payload string)) {
	w := &d.watch
	w.mu.Lock()
	if w.fns == nil {
		w.fns = map[int]func(string){}
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	if w.stop == nil {
		w.log = log
		lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		w.stop = stop
		w.gen++
		go d.listenLoop(lctx, w.gen)
	}
	connected := w.connected
	w.mu.Unlock()
	if connected {
		fn(Reconnected) // the others were told when it came up
	}
	go func() {
		<-ctx.Done()
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.fns, id)
		if len(w.fns) == 0 && w.stop != nil {
			w.stop()
			w.stop, w.connected = nil, false
			w.gen++ // the stopped loop's news are stale
		}
	}()
}

// deliver calls every watcher with payload.
func (w *watchers) deliver(payload string) {
	w.mu.Lock()
	fns := make([]func(string), 0, len(w.fns))
	for _, fn := range w.fns {
		fns = append(fns, fn)
	}
	w.mu.Unlock()
	for _, fn := range fns {
		fn(payload)
	}
}

// setConnected records whether loop gen's connection is up (a stopped
// loop's news are stale).
func (w *watchers) setConnected(gen int, up bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gen == gen {
		w.connected = up
	}
}

func (d *DB) listenLoop(ctx context.Context, gen int) {
	w := &d.watch
	retry := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(2*time.Second),
		backoff.WithMaxInterval(30*time.Second),
		backoff.WithMaxElapsedTime(0),
	)
	for ctx.Err() == nil {
		err := d.Listen(ctx, func() {
			retry.Reset()
			w.setConnected(gen, true)
			w.deliver(Reconnected)
		}, w.deliver)
		w.setConnected(gen, false)
		w.mu.Lock()
		log := w.log
		w.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			wait := retry.NextBackOff()
			if log != nil {
				log.Warn("listen for changes failed; retrying", "err", err, "retry", wait)
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}
}
