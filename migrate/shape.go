package migrate

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// lockKey is the session advisory lock taken on the legacy database for the
// whole of a migration ("bootfmig"). Its high half differs from the keys
// MAAS itself locks with.
const lockKey int64 = 0x626f6f74666d6967

// Legacy table names (public schema of the MAAS database).
const (
	tableLargefile = "maasserver_largefile"
	tableFile      = "maasserver_bootresourcefile"
)

// shape is what the legacy schema looks like.
type shape struct {
	// present: the largefile and bootresourcefile tables exist.
	present bool
	// fileHasSHA: bootresourcefile has sha256 and size columns (MAAS 3.5).
	fileHasSHA bool
	// largefileNotNull: bootresourcefile.largefile_id is NOT NULL (MAAS 3.4).
	largefileNotNull bool
}

// querier is what both a connection and a transaction offer.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// detectShape finds out which MAAS schema the legacy database has.
func detectShape(ctx context.Context, q querier) (shape, error) {
	var s shape
	var lf, f bool
	err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL`,
		tableLargefile, tableFile).Scan(&lf, &f)
	if err != nil {
		return s, fmt.Errorf("look for the MAAS tables: %w", err)
	}
	if !lf || !f {
		return s, nil
	}
	s.present = true
	rows, err := q.Query(ctx, `
		SELECT attname, attnotnull FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, tableFile)
	if err != nil {
		return s, fmt.Errorf("read the columns of %s: %w", tableFile, err)
	}
	defer rows.Close()
	var sha, size bool
	for rows.Next() {
		var name string
		var notNull bool
		if err := rows.Scan(&name, &notNull); err != nil {
			return s, err
		}
		switch name {
		case "sha256":
			sha = true
		case "size":
			size = true
		case "largefile_id":
			s.largefileNotNull = notNull
		}
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("read the columns of %s: %w", tableFile, err)
	}
	s.fileHasSHA = sha && size
	return s, nil
}

// Pending reports whether the legacy database at from still holds boot
// file content (any maasserver_largefile row). A database without the MAAS
// tables holds none. `serve --legacy-database` uses it to decide whether to
// run the migration before serving. It stays true while largefiles are
// kept: not verified on disk, or not yet confirmed for deletion.
func Pending(ctx context.Context, from string) (bool, error) {
	conn, err := connect(ctx, from)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return pending(ctx, conn)
}

func pending(ctx context.Context, q querier) (bool, error) {
	s, err := detectShape(ctx, q)
	if err != nil || !s.present {
		return false, err
	}
	var has bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+tableLargefile+`)`).Scan(&has); err != nil {
		return false, fmt.Errorf("look for legacy content: %w", err)
	}
	return has, nil
}

// connect opens one connection to the legacy database.
func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse legacy database url: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to legacy database %s: %w", describeConfig(cfg), err)
	}
	return conn, nil
}

// describe names a database URL without its password: user@host:port/name.
func describe(url string) string {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "(unparsable URL)"
	}
	return describeConfig(cfg)
}

func describeConfig(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// lock takes the migration lock on conn's session, waiting for another
// region's migration to end; waiting is called first if it must wait.
func lock(ctx context.Context, conn *pgx.Conn, waiting func()) error {
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey).Scan(&got); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	if got {
		return nil
	}
	waiting()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return fmt.Errorf("wait for the migration lock: %w", err)
	}
	return nil
}
