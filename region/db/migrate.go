package db

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key held while migrating ("bootfs01").
const migrationLock int64 = 0x626f6f7466733031

// ErrSchemaTooNew is returned when the database was migrated by a newer
// bootfs-region than this binary.
var ErrSchemaTooNew = errors.New("database schema is newer than this bootfs-region")

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations are not numbered 1..n: %s", m.name)
		}
	}
	return out, nil
}

// KnownVersion is the newest schema version this binary knows.
func KnownVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // embedded at build time; a broken set is a build bug
	}
	return len(ms)
}

// Migrate brings the schema up to KnownVersion under a database-wide
// advisory lock, so regions starting together migrate once. It returns the
// version before and after. A database newer than this binary is refused
// with ErrSchemaTooNew and left untouched.
func (d *DB) Migrate(ctx context.Context) (from, to int, err error) {
	ms, err := migrations()
	if err != nil {
		return 0, 0, err
	}
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS bootfs_schema (version integer NOT NULL)`); err != nil {
			return fmt.Errorf("create schema version table: %w", err)
		}
		err := tx.QueryRow(ctx, `SELECT version FROM bootfs_schema`).Scan(&from)
		if errors.Is(err, pgx.ErrNoRows) {
			from = 0
			if _, err := tx.Exec(ctx, `INSERT INTO bootfs_schema (version) VALUES (0)`); err != nil {
				return err
			}
		} else if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if from > len(ms) {
			return fmt.Errorf("%w: the database is at schema version %d, this binary knows up to %d; upgrade bootfs-region on this host to the version the other regions run", ErrSchemaTooNew, from, len(ms))
		}
		for _, m := range ms[from:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.name, err)
			}
		}
		to = len(ms)
		_, err = tx.Exec(ctx, `UPDATE bootfs_schema SET version = $1`, to)
		return err
	})
	return from, to, err
}

// CheckVersion returns an error unless the schema is exactly KnownVersion.
// Commands other than serve use it instead of migrating.
func (d *DB) CheckVersion(ctx context.Context) error {
	var v int
	err := d.pool.QueryRow(ctx, `SELECT version FROM bootfs_schema`).Scan(&v)
	if err != nil {
		return fmt.Errorf("read schema version (has `bootfs-region serve` run against this database yet?): %w", err)
	}
	switch known := KnownVersion(); {
	case v > known:
		return fmt.Errorf("%w: the database is at schema version %d, this binary knows up to %d; upgrade bootfs-region on this host", ErrSchemaTooNew, v, known)
	case v < known:
		return fmt.Errorf("the database is at schema version %d, this binary expects %d: start `bootfs-region serve` (it migrates) first", v, known)
	}
	return nil
}
