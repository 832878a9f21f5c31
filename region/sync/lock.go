// Package sync brings onto this region every file a recorded resource set
// needs and it does not hold yet ("convergence"): from a peer region that
// holds a verified copy when there is one, otherwise from upstream under a
// download claim, so each upstream file is downloaded once across all
// regions. An import (region/importer) records sets from upstream metadata
// and then converges; a peer sync (Loop) converges without reading
// upstream, whenever any region announces a change.
//
// Files: lock.go (the locking rule between import, sync and cleanup),
// status.go (progress of the run), engine.go (convergence), claims.go
// (upstream download claims), peers.go (copies from peer regions),
// space.go (the disk-space check), fetch.go and download.go (one transfer
// into the store's verifying write path), loop.go (the sync loop).
package sync

import (
	"errors"
	"sync"
)

// ErrBusy is returned when an import or sync is already running.
var ErrBusy = errors.New("an import is already running")

// Lock is the one lock of a region's store-changing work. The rule:
//
//   - An import (metadata, then convergence) and a peer sync (convergence
//     only) each hold it for their whole run, taken with TryRun: a second
//     run does not wait but gets ErrBusy (the import loop retries until it
//     gets its turn; the sync loop skips a round). So at most one
//     convergence commits files on this region at a time.
//   - Cleanup (deleting obsolete sets, unreferenced blobs and this region's
//     files of them) holds it too, with Exclusive, waiting for a running
//     import or sync to end. A run commits a file to the store before it
//     records the file as held, and an import records a set before its
//     files exist: cleanup running in between could delete a file a run is
//     about to record, or a blob a new set is about to reference.
//     TryExclusive is for periodic cleanup that can just as well wait for
//     the next round.
//   - The start-up reconcile runs before any of them start, so it needs no
//     lock.
//
// Other regions are not excluded by this lock: across regions, blob rows
// are protected by the database (a concurrent set insert holds a key-share
// lock on its blob, so deleting the row fails on the foreign key instead of
// losing it) and upstream downloads by claims.
type Lock struct {
	mu sync.Mutex // held by the running import, sync or cleanup
}

// TryRun takes the lock for an import or sync; ErrBusy if it is held. Call
// the returned function to release it.
func (l *Lock) TryRun() (release func(), err error) {
	if !l.mu.TryLock() {
		return nil, ErrBusy
	}
	return l.mu.Unlock, nil
}

// TryExclusive runs fn like Exclusive if no import, sync or cleanup runs
// now; otherwise it returns ErrBusy without waiting.
func (l *Lock) TryExclusive(fn func() error) error {
	if !l.mu.TryLock() {
		return ErrBusy
	}
	defer l.mu.Unlock()
	return fn()
}

// Exclusive runs fn while no import, sync or other cleanup runs, waiting for
// a running one to end, so fn sees and changes the store and the database
// without a download committing files under it.
func (l *Lock) Exclusive(fn func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fn()
}
