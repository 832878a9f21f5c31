// Package db is the region's PostgreSQL layer: the versioned schema
// (migrations/), and the queries the region needs over boot sources,
// resources, sets, files, blobs, regions, per-region sync state and
// banners. Every region of a deployment shares one database; changes that
// alter the boot tree are announced with NOTIFY on ChangeChannel so every
// region recomputes its tree without polling.
//
// Tables, in short:
//
//	boot_source / boot_source_selection   what to import from where
//	boot_resource -> boot_resource_set -> boot_resource_file -> blob
//	region                                 registered regions and heartbeats
//	blob_sync                              bytes each region holds of each blob
//	banner                                 persistent problems for operators
package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ChangeChannel is the LISTEN/NOTIFY channel on which writers announce that
// sets, files, regions or sync state changed.
const ChangeChannel = "bootfs_changed"

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// DB is a pool of connections to the region database.
type DB struct {
	pool  *pgxpool.Pool
	watch watchers // the one LISTEN loop shared by every Watch
}

// Open connects to url and checks the connection. It does not migrate.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", redact(cfg.ConnConfig), err)
	}
	return &DB{pool: pool}, nil
}

// Close closes every connection.
func (d *DB) Close() { d.pool.Close() }

// Pool exposes the pool for packages that run their own SQL (migrate).
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Notify announces a change on ChangeChannel.
func (d *DB) Notify(ctx context.Context, what string) error {
	_, err := d.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, ChangeChannel, what)
	return err
}

// Listen calls fn with each payload announced on ChangeChannel until ctx
// is done. It returns the error that broke the connection, or nil on ctx
// cancel; callers reconnect by calling it again.
func (d *DB) Listen(ctx context.Context, ready func(), fn func(payload string)) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection keeps LISTEN state: never hand it back to the pool.
	raw := conn.Hijack()
	defer raw.Close(context.WithoutCancel(ctx))
	if _, err := raw.Exec(ctx, "LISTEN "+pgx.Identifier{ChangeChannel}.Sanitize()); err != nil {
		return err
	}
	if ready != nil {
		ready()
	}
	for {
		n, err := raw.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fn(n.Payload)
	}
}

func redact(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}
