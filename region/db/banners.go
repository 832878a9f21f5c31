package db

import (
	"context"
	"time"
)

// Banner is a persistent problem raised by a region.
type Banner struct {
	Region  string
	Kind    string
	Message string
	Since   time.Time
}

// SetBanner raises (or updates the message of) the banner kind for a region.
// Since keeps the time it was first raised.
func (d *DB) SetBanner(ctx context.Context, regionID int64, kind, message string) error {
	_, err := d.pool.Exec(ctx, `
		INSERT INTO banner (region_id, kind, message) VALUES ($1, $2, $3)
		ON CONFLICT (region_id, kind) DO UPDATE SET message = EXCLUDED.message`,
		regionID, kind, message)
	return err
}

// ClearBanner removes the banner kind of a region, if raised.
func (d *DB) ClearBanner(ctx context.Context, regionID int64, kind string) error {
	_, err := d.pool.Exec(ctx, `DELETE FROM banner WHERE region_id = $1 AND kind = $2`, regionID, kind)
	return err
}

// Banners lists every raised banner, oldest first.
func (d *DB) Banners(ctx context.Context) ([]Banner, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT r.name, b.kind, b.message, b.since FROM banner b JOIN region r ON r.id = b.region_id
		ORDER BY b.since, r.name, b.kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Banner
	for rows.Next() {
		var b Banner
		if err := rows.Scan(&b.Region, &b.Kind, &b.Message, &b.Since); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
