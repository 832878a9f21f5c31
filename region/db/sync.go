package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bootfs/bootfs/internal/digest"
)

// MarkHeld records that a region holds size bytes of a blob (size == blob
// size: complete and verified) and announces the change.
func (d *DB) MarkHeld(ctx context.Context, regionID int64, sha digest.Digest, size int64) error {
	_, err := d.pool.Exec(ctx, `
		INSERT INTO blob_sync (sha256, region_id, size) VALUES ($1, $2, $3)
		ON CONFLICT (sha256, region_id) DO UPDATE SET size = EXCLUDED.size, updated = now()`,
		sha.String(), regionID, size)
	if err != nil {
		return fmt.Errorf("mark %s held: %w", sha, err)
	}
	return d.Notify(ctx, "sync")
}

// Forget drops a region's sync state for blobs it no longer holds (missing,
// wrong size, quarantined), so they are fetched again.
func (d *DB) Forget(ctx context.Context, regionID int64, shas []digest.Digest) error {
	if len(shas) == 0 {
		return nil
	}
	_, err := d.pool.Exec(ctx, `DELETE FROM blob_sync WHERE region_id = $1 AND sha256 = ANY($2)`,
		regionID, hexes(shas))
	if err != nil {
		return err
	}
	return d.Notify(ctx, "sync")
}

// Held returns what the database says a region holds completely: digest to size.
func (d *DB) Held(ctx context.Context, regionID int64) (map[digest.Digest]int64, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT s.sha256, s.size FROM blob_sync s JOIN blob b ON b.sha256 = s.sha256
		WHERE s.region_id = $1 AND s.size = b.size`, regionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[digest.Digest]int64{}
	for rows.Next() {
		var sha string
		var size int64
		if err := rows.Scan(&sha, &size); err != nil {
			return nil, err
		}
		dg, err := digest.Parse(sha)
		if err != nil {
			return nil, err
		}
		out[dg] = size
	}
	return out, rows.Err()
}

// Want is a blob a region lacks.
type Want struct {
	SHA256    digest.Digest
	Size      int64
	Name      string // a human name: the first file that uses it
	SourceURL string // an upstream URL, "" when only peers (or extraction) can provide it
	Peer      bool   // another region holds a complete copy
}

// Wanted lists the blobs referenced by any set that is not retired and
// that the region does not hold completely, largest first.
func (d *DB) Wanted(ctx context.Context, regionID int64) ([]Want, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT b.sha256, b.size,
		       min(r.name || ' ' || r.architecture || ' ' || s.version || ' ' || f.filename),
		       coalesce(min(f.source_url), ''),
		       EXISTS (SELECT 1 FROM blob_sync p WHERE p.sha256 = b.sha256 AND p.region_id <> $1 AND p.size = b.size)
		FROM blob b
		JOIN boot_resource_file f ON f.sha256 = b.sha256
		JOIN boot_resource_set s ON s.id = f.set_id AND s.retired IS NULL
		JOIN boot_resource r ON r.id = s.resource_id
		WHERE NOT EXISTS (SELECT 1 FROM blob_sync y WHERE y.sha256 = b.sha256 AND y.region_id = $1 AND y.size = b.size)
		GROUP BY b.sha256, b.size
		ORDER BY b.size DESC, b.sha256`, regionID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Want, error) {
		var w Want
		var sha string
		if err := r.Scan(&sha, &w.Size, &w.Name, &w.SourceURL, &w.Peer); err != nil {
			return w, err
		}
		var err error
		w.SHA256, err = digest.Parse(sha)
		return w, err
	})
}

// PublishSets marks sets as published (complete on every region) now,
// unless they already are.
func (d *DB) PublishSets(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	tag, err := d.pool.Exec(ctx, `UPDATE boot_resource_set SET published = now() WHERE id = ANY($1) AND published IS NULL`, ids)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	return d.Notify(ctx, "set")
}

// DeleteSets removes sets and their files (not their blobs: see
// DeleteOrphanBlobs).
func (d *DB) DeleteSets(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { // all or nothing (TestDeleteSetsAtomic)
		if _, err := tx.Exec(ctx, `DELETE FROM boot_resource_set WHERE id = ANY($1)`, ids); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM boot_resource r WHERE NOT EXISTS (SELECT 1 FROM boot_resource_set s WHERE s.resource_id = r.id)`)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'set')`, ChangeChannel) // sent at commit
		return err
	})
}

// DeleteOrphanBlobs deletes blobs no file references any more (with their
// sync rows) and returns them, so each region removes its copy. A file
// inserted concurrently that references one of them makes this fail on the
// foreign key rather than lose the blob: the caller just tries again later.
func (d *DB) DeleteOrphanBlobs(ctx context.Context) ([]digest.Digest, error) {
	rows, err := d.pool.Query(ctx, `
		DELETE FROM blob b
		WHERE NOT EXISTS (SELECT 1 FROM boot_resource_file f WHERE f.sha256 = b.sha256)
		RETURNING b.sha256`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (digest.Digest, error) {
		var s string
		if err := r.Scan(&s); err != nil {
			return digest.Digest{}, err
		}
		return digest.Parse(s)
	})
}

// KnownBlobs returns every blob's size, for deciding what local files are ours.
func (d *DB) KnownBlobs(ctx context.Context) (map[digest.Digest]int64, error) {
	rows, err := d.pool.Query(ctx, `SELECT sha256, size FROM blob`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[digest.Digest]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		dg, err := digest.Parse(s)
		if err != nil {
			return nil, err
		}
		out[dg] = n
	}
	return out, rows.Err()
}

func hexes(ds []digest.Digest) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}
