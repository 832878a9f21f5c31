package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Source is an upstream simplestreams mirror and what to take from it.
type Source struct {
	ID         int64
	URL        string
	Keyring    []byte
	Unsigned   bool
	Selections []Selection
}

// Selection picks products of a source; "*" in a list matches everything.
type Selection struct {
	OS, Release               string
	Arches, Subarches, Labels []string
}

// AddSource records a source with its selections, replacing the selections
// of an existing source with the same URL.
func (d *DB) AddSource(ctx context.Context, s Source) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO boot_source (url, keyring, unsigned) VALUES ($1, $2, $3)
			ON CONFLICT (url) DO UPDATE SET keyring = EXCLUDED.keyring, unsigned = EXCLUDED.unsigned
			RETURNING id`, s.URL, s.Keyring, s.Unsigned).Scan(&id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM boot_source_selection WHERE source_id = $1`, id); err != nil {
			return err
		}
		for _, sel := range s.Selections {
			_, err := tx.Exec(ctx, `
				INSERT INTO boot_source_selection (source_id, os, release, arches, subarches, labels)
				VALUES ($1, $2, $3, $4, $5, $6)`,
				id, sel.OS, sel.Release, orStar(sel.Arches), orStar(sel.Subarches), orStar(sel.Labels))
			if err != nil {
				return fmt.Errorf("selection %s/%s: %w", sel.OS, sel.Release, err)
			}
		}
		// Selections may have changed: regions retire what none picks now.
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'source')`, ChangeChannel)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("add source %s: %w", s.URL, err)
	}
	return id, nil
}

// Sources lists every source with its selections, oldest first.
func (d *DB) Sources(ctx context.Context) ([]Source, error) {
	rows, err := d.pool.Query(ctx, `SELECT id, url, keyring, unsigned FROM boot_source ORDER BY id`)
	if err != nil {
		return nil, err
	}
	srcs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Source, error) {
		var s Source
		err := r.Scan(&s.ID, &s.URL, &s.Keyring, &s.Unsigned)
		return s, err
	})
	if err != nil {
		return nil, err
	}
	for i := range srcs {
		rows, err := d.pool.Query(ctx, `
			SELECT os, release, arches, subarches, labels FROM boot_source_selection
			WHERE source_id = $1 ORDER BY id`, srcs[i].ID)
		if err != nil {
			return nil, err
		}
		srcs[i].Selections, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Selection, error) {
			var s Selection
			err := r.Scan(&s.OS, &s.Release, &s.Arches, &s.Subarches, &s.Labels)
			return s, err
		})
		if err != nil {
			return nil, err
		}
	}
	return srcs, nil
}

// RemoveSource forgets the source with url (and its selections) and
// announces it: every region's cleanup then retires the sets no remaining
// selection picks (they leave the tree at once; their files are deleted
// after the cleanup grace).
func (d *DB) RemoveSource(ctx context.Context, url string) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM boot_source WHERE url = $1`, url)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("source %s: %w", url, ErrNotFound)
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'source')`, ChangeChannel)
		return err
	})
}

func orStar(l []string) []string {
	if len(l) == 0 {
		return []string{"*"}
	}
	return l
}
