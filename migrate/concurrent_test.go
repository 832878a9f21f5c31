package migrate

import (
	"context"
	"testing"
	"time"
)

// Two regions start at once against the same legacy and region databases:
// the first takes the lock and migrates; the second waits on the lock (seen
// in pg_locks while the first is held mid-migration), then finds nothing.
func TestTwoRegionsOneMigrates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, false, 0)
	a := newRegion(t, "", "region-a", "")
	b := newRegion(t, a.url, "region-b", "")

	type result struct {
		rep *Report
		err error
	}
	holding := make(chan struct{})
	release := make(chan struct{})
	first := true
	oa := a.options(f.url)
	oa.Progress = func(Progress) {
		if first { // A holds the lock and is about to export
			first = false
			close(holding)
			<-release
		}
	}
	resA := make(chan result, 1)
	go func() { rep, err := Run(ctx, oa); resA <- result{rep, err} }()
	select {
	case <-holding:
	case r := <-resA:
		t.Fatalf("region A finished without reporting progress: %+v, %v", r.rep, r.err)
	}
	resB := make(chan result, 1)
	go func() { rep, err := Run(ctx, b.options(f.url)); resB <- result{rep, err} }()
	eventually(t, 30*time.Second, "region B to wait for the migration lock", func() bool {
		return f.int(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`) == 1
	})
	close(release)

	ra, rb := <-resA, <-resB
	if ra.err != nil || rb.err != nil {
		t.Fatalf("A: %v; B: %v", ra.err, rb.err)
	}
	if ra.rep.Migrated != len(f.good) {
		t.Errorf("A migrated %d, want %d", ra.rep.Migrated, len(f.good))
	}
	// B finds only the unverified largefiles A kept: nothing to copy,
	// nothing to delete.
	if rb.rep.Migrated+rb.rep.Skipped+rb.rep.Removed != 0 || rb.rep.Kept != len(f.kept) {
		t.Errorf("B did something: %+v", rb.rep)
	}
	verifyMigrated(t, f, a)
	if final, partial := blobNames(t, b.store.Dir()); len(final)+len(partial) != 0 {
		t.Errorf("B's store holds %v %v", final, partial)
	}
	if held, err := b.db.Held(ctx, b.id); err != nil || len(held) != 0 {
		t.Errorf("B holds %v (%v); it should get files by peer sync", held, err)
	}
}
