package pgembed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// readyTimeout bounds waiting for a new server (including crash recovery)
// to accept connections, unless the caller's context ends first.
const readyTimeout = 2 * time.Minute

// waitReady polls, less and less often, until postgres accepts
// connections; it fails if postgres exits first.
func (s *Server) waitReady(ctx context.Context, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	delay := 20 * time.Millisecond // grows to 1s: crash recovery can take a while
	var lastErr error
	for {
		select {
		case <-p.exited:
			s.drain(p)
			return fmt.Errorf("postgres exited during startup: %w: %s", exitErr(p), p.recentOutput())
		default:
		}
		lastErr = s.ping(ctx)
		if lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections: %w (last error: %v): %s", ctx.Err(), lastErr, p.recentOutput())
		case <-p.exited:
		case <-time.After(delay):
		}
		delay = min(delay*3/2, time.Second)
	}
}

func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.urlFor("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// createDatabase creates Options.Database unless it exists.
func (s *Server) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.urlFor("postgres"))
	if err != nil {
		return fmt.Errorf("connect to create database: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", s.o.Database).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %q: %w", s.o.Database, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.o.Database}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: created concurrently
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %q: %w", s.o.Database, err)
	}
	s.log.Info("created database", "database", s.o.Database)
	return nil
}
