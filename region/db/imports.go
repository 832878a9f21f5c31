package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// HistoryKeep is how many import_run rows each region keeps (newest first).
const HistoryKeep = 100

// Run outcomes kept in import_run.
const (
	OutcomeRunning = "running"
	OutcomeDone    = "done"
	OutcomeFailed  = "failed"
	OutcomeStopped = "stopped"
)

// ImportRun is one import or peer sync of one region.
type ImportRun struct {
	ID       int64
	Region   string
	Kind     string // "import" or "sync"
	Started  time.Time
	Finished time.Time // zero while running
	Outcome  string    // OutcomeRunning, OutcomeDone, OutcomeFailed or OutcomeStopped
	Error    string
	Bytes    int64
	Files    int
}

// interruptedRun is the error recorded for a run its region never ended.
const interruptedRun = "the region stopped before this run ended"

// BeginRun records that a region started a run of kind ("import" or
// "sync") and returns its id. Runs of that region still recorded as
// running were cut short by the region stopping (a region runs one at a
// time) and are recorded failed; rows beyond the newest HistoryKeep of the
// region are deleted.
func (d *DB) BeginRun(ctx context.Context, regionID int64, kind string) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			UPDATE import_run SET outcome = 'failed', finished = now(), error = $2
			WHERE region_id = $1 AND outcome = 'running'`, regionID, interruptedRun); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO import_run (region_id, kind) VALUES ($1, $2) RETURNING id`,
			regionID, kind).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			DELETE FROM import_run WHERE region_id = $1 AND id NOT IN
				(SELECT id FROM import_run WHERE region_id = $1 ORDER BY id DESC LIMIT $2)`, regionID, HistoryKeep)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record the start of a %s: %w", kind, err)
	}
	return id, nil
}

// EndInterruptedRuns records as failed the runs of a region still marked
// running (it stopped before they ended); a region calls it as it starts.
func (d *DB) EndInterruptedRuns(ctx context.Context, regionID int64) error {
	_, err := d.pool.Exec(ctx, `
		UPDATE import_run SET outcome = 'failed', finished = now(), error = $2
		WHERE region_id = $1 AND outcome = 'running'`, regionID, interruptedRun)
	return err
}

// EndRun records how run id ended: outcome (done, failed or stopped), the
// error if any, and the bytes and files it fetched.
func (d *DB) EndRun(ctx context.Context, id int64, outcome, errText string, bytes int64, files int) error {
	switch outcome {
	case OutcomeDone, OutcomeFailed, OutcomeStopped:
	default:
		return fmt.Errorf("record the end of run %d: outcome %q is not done, failed or stopped", id, outcome)
	}
	_, err := d.pool.Exec(ctx, `
		UPDATE import_run SET finished = now(), outcome = $2, error = $3, bytes = $4, files = $5 WHERE id = $1`,
		id, outcome, errText, bytes, files)
	if err != nil {
		return fmt.Errorf("record the end of run %d: %w", id, err)
	}
	return nil
}

// ImportRuns lists the history of every region, newest first, at most
// limit rows (0: no limit beyond what each region keeps).
func (d *DB) ImportRuns(ctx context.Context, limit int) ([]ImportRun, error) {
	q := `SELECT i.id, r.name, i.kind, i.started, i.finished, i.outcome, i.error, i.bytes, i.files
		FROM import_run i JOIN region r ON r.id = i.region_id ORDER BY i.started DESC, i.id DESC`
	args := []any{}
	if limit > 0 {
		q += ` LIMIT $1`
		args = append(args, limit)
	}
	rows, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list import history: %w", err)
	}
	defer rows.Close()
	var out []ImportRun
	for rows.Next() {
		var r ImportRun
		var fin *time.Time
		if err := rows.Scan(&r.ID, &r.Region, &r.Kind, &r.Started, &fin, &r.Outcome, &r.Error, &r.Bytes, &r.Files); err != nil {
			return nil, err
		}
		if fin != nil {
			r.Finished = *fin
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LastSuccess returns when the region's newest run of kind that ended
// done finished (zero time if none did).
func (d *DB) LastSuccess(ctx context.Context, regionID int64, kind string) (time.Time, error) {
	var t *time.Time
	err := d.pool.QueryRow(ctx, `
		SELECT max(finished) FROM import_run WHERE region_id = $1 AND kind = $2 AND outcome = 'done'`,
		regionID, kind).Scan(&t)
	if err != nil || t == nil {
		return time.Time{}, err
	}
	return *t, nil
}

// ImportStop is the operator's pending stop of imports.
type ImportStop struct {
	Requested time.Time
	ByRegion  string // the region that received `bootfs-region import --stop`
}

// Payloads announced on ChangeChannel when the stop is set or cleared.
const (
	PayloadImportStop   = "import-stop"
	PayloadImportResume = "import-resume"
)

// RequestImportStop records that the operator stopped imports (keeping the
// first request's time if one is pending) and announces it to every region.
func (d *DB) RequestImportStop(ctx context.Context, byRegion string) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO import_stop (by_region) VALUES ($1) ON CONFLICT (only_row) DO NOTHING`, byRegion); err != nil {
			return fmt.Errorf("record the import stop: %w", err)
		}
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, ChangeChannel, PayloadImportStop) // sent at commit
		return err
	})
}

// ClearImportStop withdraws a pending stop (an operator asked for an import
// again) and, if there was one, announces it to every region.
func (d *DB) ClearImportStop(ctx context.Context) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM import_stop`)
		if err != nil {
			return fmt.Errorf("clear the import stop: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, ChangeChannel, PayloadImportResume)
		return err
	})
}

// PendingImportStop returns the pending stop, or ok false when none is.
func (d *DB) PendingImportStop(ctx context.Context) (s ImportStop, ok bool, err error) {
	err = d.pool.QueryRow(ctx, `SELECT requested, by_region FROM import_stop`).Scan(&s.Requested, &s.ByRegion)
	if errors.Is(err, pgx.ErrNoRows) {
		return ImportStop{}, false, nil
	}
	if err != nil {
		return ImportStop{}, false, fmt.Errorf("read the import stop: %w", err)
	}
	return s, true, nil
}
