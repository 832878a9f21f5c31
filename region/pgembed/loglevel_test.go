package pgembed

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestServerLevel(t *testing.T) {
	for line, want := range map[string]slog.Level{
		"[123] LOG:  database system is ready to accept connections":   slog.LevelDebug,
		"[123] LOG:  starting PostgreSQL 15.18 on x86_64-pc-linux-gnu": slog.LevelDebug,
		"[9] DETAIL:  The failed archive command was: x":               slog.LevelDebug,
		"[9] WARNING:  could not flush dirty data":                     slog.LevelWarn,
		"[9] ERROR:  relation \"x\" does not exist":                    slog.LevelWarn,
		"[9] FATAL:  the database system is shutting down":             slog.LevelWarn,
		"[9] PANIC:  could not write to file":                          slog.LevelError,
		"\tcontinuation without a severity":                            slog.LevelDebug,
		"":                                                             slog.LevelDebug,
	} {
		if got := serverLevel(line); got != want {
			t.Errorf("serverLevel(%q) = %v, want %v", line, got, want)
		}
	}
}

// recorder is a slog.Handler keeping every record.
type recorder struct {
	mu      sync.Mutex // guards records
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// TestStartupChatterIsDebug starts and stops a real PostgreSQL and checks
// that its own output (starting, listening, ready, shutting down) is logged
// at DEBUG, so a region's log at the default level shows only the region's
// own lines.
func TestStartupChatterIsDebug(t *testing.T) {
	needBinaries(t)
	rec := &recorder{}
	s := startTest(t, Options{Dir: stateDir(t), Log: slog.New(rec)}, nil)
	conn := connect(t, s.URL())
	_ = conn.Close(context.Background())
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-s.Done()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	chatter := 0
	for _, r := range rec.records {
		var line string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "postgres" {
				line = a.Value.String()
			}
			return true
		})
		if line == "" {
			continue
		}
		if strings.Contains(line, "LOG:") {
			chatter++
		}
		if strings.Contains(line, "LOG:") && r.Level != slog.LevelDebug {
			t.Errorf("postgres chatter logged at %v, want DEBUG: %s", r.Level, line)
		}
	}
	if chatter == 0 {
		t.Fatal("no postgres output captured: the test checks nothing")
	}
	t.Logf("%d lines of postgres chatter, all at DEBUG", chatter)
}
