package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrExists is returned by CreateSource for a URL already configured.
var ErrExists = errors.New("already exists")

// Source is an upstream simplestreams mirror and what to take from it.
type Source struct {
	ID       int64
	URL      string
	Keyring  []byte
	Unsigned bool
	// Priority decides between sources carrying the same product: the
	// higher wins; ties go to the newer version, then the lower ID (the
	// source added first).
	Priority   int
	Selections []Selection
}

// Selection picks products of a source; "*" in a list matches everything.
type Selection struct {
	OS, Release               string
	Arches, Subarches, Labels []string
}

// AddSource records a source with its selections, replacing an existing
// source with the same URL (keyring, priority and selections). The API
// uses CreateSource and UpdateSource, which do not silently replace.
func (d *DB) AddSource(ctx context.Context, s Source) (int64, error) {
	return d.putSource(ctx, s, nil, `
		INSERT INTO boot_source (url, keyring, unsigned, priority) VALUES ($1, $2, $3, $4)
		ON CONFLICT (url) DO UPDATE SET keyring = EXCLUDED.keyring, unsigned = EXCLUDED.unsigned, priority = EXCLUDED.priority
		RETURNING id`)
}

// CreateSource records a new source with its selections; ErrExists if a
// source with its URL exists.
func (d *DB) CreateSource(ctx context.Context, s Source) (int64, error) {
	return d.putSource(ctx, s, ErrExists, `
		INSERT INTO boot_source (url, keyring, unsigned, priority) VALUES ($1, $2, $3, $4)
		ON CONFLICT (url) DO NOTHING RETURNING id`)
}

// UpdateSource replaces the keyring, unsigned flag, priority and
// selections of the source with s.URL; ErrNotFound if there is none.
func (d *DB) UpdateSource(ctx context.Context, s Source) (int64, error) {
	return d.putSource(ctx, s, ErrNotFound, `
		UPDATE boot_source SET keyring = $2, unsigned = $3, priority = $4 WHERE url = $1 RETURNING id`)
}

// putSource runs upsert (returning the source id, or no row: noRow) and
// replaces the selections.
func (d *DB) putSource(ctx context.Context, s Source, noRow error, upsert string) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, upsert, s.URL, s.Keyring, s.Unsigned, s.Priority).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return noRow
		}
		if err != nil {
			return err
		}
		if err := replaceSelections(ctx, tx, id, s.Selections); err != nil {
			return err
		}
		// Selections may have changed: regions retire what none picks now.
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'source')`, ChangeChannel)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("source %s: %w", s.URL, err)
	}
	return id, nil
}

// replaceSelections sets the selections of source id. Two selections of
// the same os and release are refused (the schema keeps one per pair).
func replaceSelections(ctx context.Context, tx pgx.Tx, id int64, sels []Selection) error {
	if _, err := tx.Exec(ctx, `DELETE FROM boot_source_selection WHERE source_id = $1`, id); err != nil {
		return err
	}
	for _, sel := range sels {
		_, err := tx.Exec(ctx, `
			INSERT INTO boot_source_selection (source_id, os, release, arches, subarches, labels)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			id, sel.OS, sel.Release, orStar(sel.Arches), orStar(sel.Subarches), orStar(sel.Labels))
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return fmt.Errorf("two selections of %s/%s: give one selection per os and release (merge their lists)", sel.OS, sel.Release)
		}
		if err != nil {
			return fmt.Errorf("selection %s/%s: %w", sel.OS, sel.Release, err)
		}
	}
	return nil
}

// Sources lists every source with its selections, oldest first.
func (d *DB) Sources(ctx context.Context) ([]Source, error) {
	rows, err := d.pool.Query(ctx, `SELECT id, url, keyring, unsigned, priority FROM boot_source ORDER BY id`)
	if err != nil {
		return nil, err
	}
	srcs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Source, error) {
		var s Source
		err := r.Scan(&s.ID, &s.URL, &s.Keyring, &s.Unsigned, &s.Priority)
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
