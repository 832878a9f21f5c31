package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNameInUse: another live region holds the name. The message names
// the URL it serves on.
var ErrNameInUse = errors.New("region name in use")

// Region is a registered region controller.
type Region struct {
	ID            int64
	Name          string
	URL           string
	LastHeartbeat time.Time
	// Version is the build the region runs (internal/version.String());
	// "" for a region that never served with this schema.
	Version string
	// Stopped is when the region stopped cleanly; zero while it runs (or
	// if it died without stopping).
	Stopped time.Time
}

// RegisterRegion records the region called name if it is new (marked not
// running: `serve` claims it with ClaimName), or updates its URL, and returns
// its id. Tools that act for a region before it serves use it.
func (d *DB) RegisterRegion(ctx context.Context, name, url string) (int64, error) {
	var id int64
	err := d.pool.QueryRow(ctx, `
		INSERT INTO region (name, url, stopped) VALUES ($1, $2, now())
		ON CONFLICT (name) DO UPDATE SET url = EXCLUDED.url, last_heartbeat = now()
		RETURNING id`, name, url).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("register region %s: %w", name, err)
	}
	return id, d.Notify(ctx, "region")
}

// ClaimName registers the running region called name, serving at url, and
// returns its id; it heartbeats. instance identifies this region's
// installation (kept in its store), version its build. The name is taken
// over when it is new, held by the same instance (a restart, even right
// after a crash), stopped, or silent for longer than alive. Otherwise
// another region is live under that name: the error wraps ErrNameInUse and
// names its URL.
func (d *DB) ClaimName(ctx context.Context, name, url, instance, version string, alive time.Duration) (int64, error) {
	var id int64
	err := d.pool.QueryRow(ctx, `
		INSERT INTO region (name, url, instance, version) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE
			SET url = EXCLUDED.url, instance = EXCLUDED.instance, version = EXCLUDED.version,
			    last_heartbeat = now(), stopped = NULL
			WHERE region.instance = EXCLUDED.instance OR region.stopped IS NOT NULL
			   OR region.last_heartbeat < now() - make_interval(secs => $5)
		RETURNING id`, name, url, instance, version, alive.Seconds()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		var holder string
		var age float64
		if err := d.pool.QueryRow(ctx, `SELECT url, extract(epoch FROM now() - last_heartbeat)::float8 FROM region WHERE name = $1`,
			name).Scan(&holder, &age); err != nil {
			return 0, fmt.Errorf("register region %s: %w", name, err)
		}
		return 0, fmt.Errorf("%w: region %q is live at %s (it heartbeated %.0fs ago): give this region another --name, "+
			"or stop that one first (a region that stopped or has been silent for %v can be replaced)", ErrNameInUse, name, holder, max(age, 0), alive)
	}
	if err != nil {
		return 0, fmt.Errorf("register region %s: %w", name, err)
	}
	return id, d.Notify(ctx, "region")
}

// Heartbeat marks the region alive now. A region removed by an operator
// gets ErrNotFound and must re-register (which it does at its next start);
// one whose name another instance took over (after it was silent too long)
// gets ErrNameInUse.
func (d *DB) Heartbeat(ctx context.Context, id int64, instance string) error {
	tag, err := d.pool.Exec(ctx, `UPDATE region SET last_heartbeat = now() WHERE id = $1 AND instance = $2 AND stopped IS NULL`, id, instance)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var url string
	err = d.pool.QueryRow(ctx, `SELECT url FROM region WHERE id = $1`, id).Scan(&url)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("region %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: another region took over this name and serves at %s", ErrNameInUse, url)
}

// MarkDown records that the region stopped cleanly: it is no longer alive
// for any region (last_heartbeat moves to the epoch; Stopped keeps the
// time). Only the instance that holds the row can mark it down.
func (d *DB) MarkDown(ctx context.Context, id int64, instance string) error {
	tag, err := d.pool.Exec(ctx, `UPDATE region SET stopped = now(), last_heartbeat = 'epoch' WHERE id = $1 AND instance = $2`, id, instance)
	if err != nil {
		return fmt.Errorf("mark region down: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return d.Notify(ctx, "region")
}

// Regions lists registered regions by name.
func (d *DB) Regions(ctx context.Context) ([]Region, error) {
	rows, err := d.pool.Query(ctx, `SELECT id, name, url, last_heartbeat, version, stopped FROM region ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Region
	for rows.Next() {
		var r Region
		var stopped *time.Time
		if err := rows.Scan(&r.ID, &r.Name, &r.URL, &r.LastHeartbeat, &r.Version, &stopped); err != nil {
			return nil, err
		}
		if stopped != nil {
			r.Stopped = *stopped
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
