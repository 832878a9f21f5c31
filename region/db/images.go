package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ImageSet is one set (version) of a resource, retired or not, as
// `images list` shows it.
type ImageSet struct {
	ID           int64
	ResourceID   int64
	Name         string
	Architecture string
	RType        int
	Title        string // boot_resource.extra->>'title', "" if none
	// Source is the URL of the boot source that recorded the set, "" for
	// an uploaded or migrated one.
	Source         string
	BootloaderType string
	Version        string
	Label          string
	Created        time.Time
	Published      *time.Time
	Retired        *time.Time
	Files          int
	Size           int64
	// HeldBy names the registered regions holding every file of the set.
	HeldBy []string
}

// ImageSets lists every set of every resource, retired ones included, by
// name, architecture and version.
func (d *DB) ImageSets(ctx context.Context) ([]ImageSet, error) {
	var out []ImageSet
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT s.id, r.id, r.name, r.architecture, r.rtype, coalesce(r.extra->>'title', ''), coalesce(s.source, ''),
			       coalesce(r.bootloader_type, ''), s.version, s.label, s.created, s.published, s.retired,
			       (SELECT count(*) FROM boot_resource_file f WHERE f.set_id = s.id),
			       (SELECT coalesce(sum(f.size), 0) FROM boot_resource_file f WHERE f.set_id = s.id)
			FROM boot_resource_set s JOIN boot_resource r ON r.id = s.resource_id
			ORDER BY r.name, r.architecture, s.version, s.id`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ImageSet, error) {
			var s ImageSet
			err := r.Scan(&s.ID, &s.ResourceID, &s.Name, &s.Architecture, &s.RType, &s.Title, &s.Source,
				&s.BootloaderType, &s.Version, &s.Label, &s.Created, &s.Published, &s.Retired, &s.Files, &s.Size)
			return s, err
		})
		if err != nil {
			return err
		}
		byID := make(map[int64]*ImageSet, len(out))
		for i := range out {
			byID[out[i].ID] = &out[i]
		}
		// A region holds a set when it holds every byte of every file.
		rows, err = tx.Query(ctx, `
			SELECT f.set_id, g.name
			FROM boot_resource_file f CROSS JOIN region g
			LEFT JOIN blob_sync b ON b.sha256 = f.sha256 AND b.region_id = g.id
			GROUP BY f.set_id, g.name
			HAVING bool_and(coalesce(b.size, 0) >= f.size)
			ORDER BY g.name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				return err
			}
			if s := byID[id]; s != nil {
				s.HeldBy = append(s.HeldBy, name)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return out, nil
}

// Withdraw retires every set of the given resources now (they leave the
// boot tree of every region at once; cleanup deletes them CleanupGrace
// later) and, in the same transaction, replaces the selections of the
// sources in selections (source id -> its new selections), so that no
// import brings them back. It returns how many sets it retired.
func (d *DB) Withdraw(ctx context.Context, resourceIDs []int64, selections map[int64][]Selection) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		for id, sels := range selections {
			if err := replaceSelections(ctx, tx, id, sels); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE boot_resource_set SET retired = now() WHERE resource_id = ANY($1) AND retired IS NULL`, resourceIDs)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if len(selections) > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_notify($1, 'source')`, ChangeChannel); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'set')`, ChangeChannel)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("withdraw resources: %w", err)
	}
	return n, nil
}

// CompleteSets returns the ids of the sets every registered region holds
// completely (every byte of every file), or that were published.
func (d *DB) CompleteSets(ctx context.Context) (map[int64]bool, error) {
	return d.idSet(ctx, `
		SELECT s.id FROM boot_resource_set s
		WHERE s.published IS NOT NULL OR (
		    EXISTS (SELECT 1 FROM boot_resource_file f WHERE f.set_id = s.id) AND
		    NOT EXISTS (SELECT 1 FROM boot_resource_file f CROSS JOIN region g
		                LEFT JOIN blob_sync b ON b.sha256 = f.sha256 AND b.region_id = g.id
		                WHERE f.set_id = s.id AND coalesce(b.size, 0) < f.size))`)
}

// idSet runs query, which selects one bigint column, and returns the ids
// it yields as a set.
func (d *DB) idSet(ctx context.Context, query string, args ...any) (map[int64]bool, error) {
	rows, err := d.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
