package main

import (
	"fmt"
	"log/slog"
	"log/syslog"
	"os"
	"strings"
)

// newLogger returns the mount's logger: to log_file if given, else to
// stderr in the foreground, else (a background process, whose stdio is
// /dev/null) to syslog, or nowhere if there is no syslog. close releases
// the destination.
func newLogger(req *mountRequest, background bool) (log *slog.Logger, close func(), err error) {
	opts := &slog.HandlerOptions{Level: req.logLevel}
	switch {
	case req.logFile != "":
		f, err := os.OpenFile(req.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		return slog.New(slog.NewTextHandler(f, opts)), func() { f.Close() }, nil
	case !background:
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), func() {}, nil
	}
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "bootfs")
	if err != nil {
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	// syslog stamps the time itself.
	opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	return slog.New(slog.NewTextHandler(syslogWriter{w}, opts)), func() { w.Close() }, nil
}

// syslogWriter sends each line the text handler writes at the syslog
// priority of its level.
type syslogWriter struct{ w *syslog.Writer }

func (s syslogWriter) Write(b []byte) (int, error) {
	line := strings.TrimRight(string(b), "\n")
	var err error
	switch {
	case strings.HasPrefix(line, "level=ERROR"):
		err = s.w.Err(line)
	case strings.HasPrefix(line, "level=WARN"):
		err = s.w.Warning(line)
	case strings.HasPrefix(line, "level=DEBUG"):
		err = s.w.Debug(line)
	default:
		err = s.w.Info(line)
	}
	if err != nil {
		return 0, err
	}
	return len(b), nil
}
