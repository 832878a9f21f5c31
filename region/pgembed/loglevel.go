package pgembed

import (
	"log/slog"
	"strings"
)

// serverLevel is the slog level a line of PostgreSQL's own output is logged
// at. Its routine chatter (LOG lines: starting, listening, checkpoints,
// ready, shutting down; NOTICE, INFO, DEBUG and the DETAIL/HINT/CONTEXT/
// STATEMENT lines that follow a message) is DEBUG: the region logs its own
// "started postgres" and failures. WARNING, ERROR and FATAL are WARN (a
// connection refused at shutdown is FATAL too), PANIC is ERROR. Lines have
// the log_line_prefix "[pid] " this package sets; a line without a known
// severity (a continuation) is DEBUG.
func serverLevel(line string) slog.Level {
	rest := line
	if strings.HasPrefix(rest, "[") {
		if i := strings.Index(rest, "] "); i > 0 {
			rest = rest[i+2:]
		}
	}
	sev, _, ok := strings.Cut(rest, ":")
	if !ok {
		return slog.LevelDebug
	}
	switch sev {
	case "WARNING", "ERROR", "FATAL":
		return slog.LevelWarn
	case "PANIC":
		return slog.LevelError
	}
	return slog.LevelDebug
}
