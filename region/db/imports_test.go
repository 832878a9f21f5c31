package db_test

import (
	"context"
	"testing"

	"github.com/bootfs/bootfs/region/db"
)

// TestImportHistoryBounded: each region keeps its newest HistoryKeep runs,
// a run left running by a region that stopped is recorded failed when the
// next starts, and the list is newest first.
func TestImportHistoryBounded(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	a, b := registerRegion(t, d, "a"), registerRegion(t, d, "b")
	bID, err := d.BeginRun(ctx, b, "sync")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.EndRun(ctx, bID, db.OutcomeDone, "", 10, 1); err != nil {
		t.Fatal(err)
	}
	var last int64
	for i := 0; i < db.HistoryKeep+5; i++ {
		id, err := d.BeginRun(ctx, a, "import")
		if err != nil {
			t.Fatal(err)
		}
		if i < db.HistoryKeep+4 { // the last stays running
			if err := d.EndRun(ctx, id, db.OutcomeStopped, "", int64(i), i); err != nil {
				t.Fatal(err)
			}
		}
		last = id
	}
	if n := count(t, d, `SELECT count(*) FROM import_run WHERE region_id = $1`, a); n != db.HistoryKeep {
		t.Errorf("region-a keeps %d runs, want %d", n, db.HistoryKeep)
	}
	if n := count(t, d, `SELECT count(*) FROM import_run WHERE region_id = $1`, b); n != 1 {
		t.Errorf("region-b keeps %d runs, want 1 (another region's runs must not push its out)", n)
	}
	if err := d.EndRun(ctx, last, "running", "", 0, 0); err == nil {
		t.Error("EndRun accepted the outcome running")
	}
	if err := d.EndInterruptedRuns(ctx, a); err != nil {
		t.Fatal(err)
	}
	runs, err := d.ImportRuns(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != db.HistoryKeep+1 {
		t.Fatalf("%d runs listed", len(runs))
	}
	if r := runs[0]; r.ID != last || r.Outcome != db.OutcomeFailed || r.Error == "" || r.Finished.IsZero() {
		t.Errorf("newest run %+v: want the interrupted one, failed with a reason", r)
	}
	if r := runs[1]; r.Outcome != db.OutcomeStopped || r.Bytes != int64(db.HistoryKeep+3) {
		t.Errorf("second newest %+v", r)
	}
	if ok, err := d.LastSuccess(ctx, a, "import"); err != nil || !ok.IsZero() {
		t.Errorf("region-a has no done import, LastSuccess = %v, %v", ok, err)
	}
	if ok, err := d.LastSuccess(ctx, b, "sync"); err != nil || ok.IsZero() {
		t.Errorf("region-b's done sync: LastSuccess = %v, %v", ok, err)
	}
}

// TestImportStopRow: the stop is one row, set and cleared idempotently.
func TestImportStopRow(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	if _, ok, err := d.PendingImportStop(ctx); err != nil || ok {
		t.Fatalf("stop pending in a new database: %v %v", ok, err)
	}
	for range 2 {
		if err := d.RequestImportStop(ctx, "r1"); err != nil {
			t.Fatal(err)
		}
	}
	st, ok, err := d.PendingImportStop(ctx)
	if err != nil || !ok || st.ByRegion != "r1" || st.Requested.IsZero() {
		t.Fatalf("pending stop %+v %v %v", st, ok, err)
	}
	for range 2 {
		if err := d.ClearImportStop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := d.PendingImportStop(ctx); ok {
		t.Error("stop still pending after ClearImportStop")
	}
}
