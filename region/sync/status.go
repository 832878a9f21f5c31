package sync

import (
	"errors"
	"sync"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
)

// Tracker keeps the progress of this region's import or sync run, as
// status and metrics report it. Methods are safe for concurrent use.
type Tracker struct {
	mu     sync.Mutex // guards status and the transfers it lists
	status wire.ImportStatus
}

// NewTracker returns an idle Tracker.
func NewTracker() *Tracker {
	return &Tracker{status: wire.ImportStatus{State: "idle"}}
}

// Status returns a copy of the current progress.
func (t *Tracker) Status() wire.ImportStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.status
	s.Current = append([]wire.Transfer(nil), s.Current...)
	return s
}

// Begin starts a run of kind "import" or "sync".
func (t *Tracker) Begin(kind string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	imports := t.status.Imports
	if kind == "import" {
		imports++
	}
	t.status = wire.ImportStatus{State: "running", Kind: kind, Started: time.Now(), Generation: t.status.Generation + 1,
		Imports: imports, LastImport: t.status.LastImport}
}

// Finish ends the run with its outcome: "done" (product failures alone
// leave a run done), "stopped" (ErrStopped: an operator's stop is not a
// failure) or "failed".
func (t *Tracker) Finish(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status.Finished = time.Now()
	t.status.Current = nil
	t.status.State = "done"
	var failures []wire.ProductFailure
	if errors.Is(err, ErrStopped) {
		t.status.State = "stopped"
	} else {
		var other bool
		failures, other = ProductFailures(err)
		if other {
			t.status.State = "failed"
			t.status.Error = err.Error()
		}
	}
	t.status.FailedProducts = failures
	if t.status.Kind == "import" {
		t.status.LastImport = &wire.ImportEnded{Number: t.status.Imports, State: t.status.State,
			Error: t.status.Error, Finished: t.status.Finished, FailedProducts: failures}
	}
}

func (t *Tracker) setTotals(files int, bytes int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status.FilesTotal, t.status.BytesTotal = files, bytes
}

// startTransfer lists a transfer as current; the returned function reports
// its progress and, with finished set, removes it.
func (t *Tracker) startTransfer(tr wire.Transfer) func(done int64, finished bool) {
	t.mu.Lock()
	t.status.Current = append(t.status.Current, tr)
	t.mu.Unlock()
	var last int64
	return func(done int64, finished bool) {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.status.BytesDone += done - last
		last = done
		for i := range t.status.Current {
			if t.status.Current[i].SHA256 == tr.SHA256 {
				t.status.Current[i].Done = done
				if finished {
					t.status.Current = append(t.status.Current[:i], t.status.Current[i+1:]...)
					if done == tr.Size {
						t.status.FilesDone++
					}
				}
				break
			}
		}
	}
}
