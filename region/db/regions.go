package db

import (
	"context"
	"fmt"
	"time"
)

// Region is a registered region controller.
type Region struct {
	ID            int64
	Name          string
	URL           string
	LastHeartbeat time.Time
}

// RegisterRegion records (or updates the URL of) the region called name and
// returns its id. It also heartbeats.
func (d *DB) RegisterRegion(ctx context.Context, name, url string) (int64, error) {
	var id int64
	err := d.pool.QueryRow(ctx, `
		INSERT INTO region (name, url) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET url = EXCLUDED.url, last_heartbeat = now()
		RETURNING id`, name, url).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("register region %s: %w", name, err)
	}
	return id, d.Notify(ctx, "region")
}

// Heartbeat marks the region alive now. A region removed by an operator
// gets ErrNotFound and must re-register (which it does at its next start).
func (d *DB) Heartbeat(ctx context.Context, id int64) error {
	tag, err := d.pool.Exec(ctx, `UPDATE region SET last_heartbeat = now() WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("region %d: %w", id, ErrNotFound)
	}
	return nil
}

// Regions lists registered regions by name.
func (d *DB) Regions(ctx context.Context) ([]Region, error) {
	rows, err := d.pool.Query(ctx, `SELECT id, name, url, last_heartbeat FROM region ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Region
	for rows.Next() {
		var r Region
		if err := rows.Scan(&r.ID, &r.Name, &r.URL, &r.LastHeartbeat); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RemoveRegion forgets a region: its sync state and banners go with it, so
// it no longer holds back any set. A region that is still running
// re-registers at its next start and then catches up like a new one.
func (d *DB) RemoveRegion(ctx context.Context, name string) error {
	tag, err := d.pool.Exec(ctx, `DELETE FROM region WHERE name = $1`, name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("region %q: %w", name, ErrNotFound)
	}
	return d.Notify(ctx, "region")
}

// Now returns the database server's clock, so heartbeat ages are measured on
// one clock whatever the regions' clocks say.
func (d *DB) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := d.pool.QueryRow(ctx, `SELECT now()`).Scan(&t)
	return t, err
}

// CheckSecret compares fingerprint, the shared secret's fingerprint of
// region, with the one recorded by the first region that started (or by
// the last one that replaced it). The first call records it. With replace,
// fingerprint replaces the recorded one. It returns whether they match and
// which region recorded the one on file.
func (d *DB) CheckSecret(ctx context.Context, fingerprint, region string, replace bool) (match bool, setBy string, err error) {
	q := `INSERT INTO secret_check (fingerprint, set_by) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`
	if replace {
		q = `INSERT INTO secret_check (fingerprint, set_by) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, set_by = EXCLUDED.set_by, set_at = now()`
	}
	if _, err := d.pool.Exec(ctx, q, fingerprint, region); err != nil {
		return false, "", fmt.Errorf("record the secret's fingerprint: %w", err)
	}
	var onFile string
	if err := d.pool.QueryRow(ctx, `SELECT fingerprint, set_by FROM secret_check`).Scan(&onFile, &setBy); err != nil {
		return false, "", fmt.Errorf("read the secret's fingerprint: %w", err)
	}
	return onFile == fingerprint, setBy, nil
}
