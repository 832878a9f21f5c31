package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/bootfs/bootfs/internal/units"
	"github.com/bootfs/bootfs/migrate"
)

// isTerminal reports whether f is an *os.File on a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// console is the terminal a migration draws on. The progress bar owns its
// last line: a log line written through the console erases the bar, is
// written, and the bar is drawn again below it, so log lines never land in
// the middle of the bar.
type console struct {
	tty bool
	mu  sync.Mutex // guards w and bar: one writer at a time
	w   io.Writer
	bar string // the bar as last drawn, "" when none is shown
}

// eraseLine moves to the start of the line and clears it.
const eraseLine = "\r\033[K"

func newConsole(w io.Writer) *console { return &console{w: w, tty: isTerminal(w)} }

// Write writes one log record (slog handlers write a record at once).
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar == "" {
		return c.w.Write(p)
	}
	if _, err := io.WriteString(c.w, eraseLine); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	if err == nil {
		_, err = io.WriteString(c.w, c.bar)
	}
	return n, err
}

// draw replaces the bar with line.
func (c *console) draw(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = io.WriteString(c.w, eraseLine+line)
	c.bar = line
}

// release leaves the bar as it is on its own line; later writes go below.
func (c *console) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != "" {
		_, _ = io.WriteString(c.w, "\n")
		c.bar = ""
	}
}

// migrateBar shows a migration's progress: a bar on a terminal, else a log
// line every 10 seconds and at the end.
type migrateBar struct {
	con   *console
	log   *slog.Logger
	last  time.Time
	drawn bool
}

func newMigrateBar(con *console, log *slog.Logger) *migrateBar {
	return &migrateBar{con: con, log: log, last: time.Now()}
}

// barRedraw is the least time between two redraws (the last state of a
// file is always drawn).
const barRedraw = 200 * time.Millisecond

func (b *migrateBar) update(p migrate.Progress) {
	done := p.FilesTotal > 0 && p.FilesDone == p.FilesTotal
	if !b.con.tty {
		if time.Since(b.last) >= 10*time.Second || done {
			b.log.Info(p.String())
			b.last = time.Now()
		}
		return
	}
	if b.drawn && time.Since(b.last) < barRedraw && !done {
		return
	}
	b.con.draw(barLine(p, 30))
	b.drawn, b.last = true, time.Now()
}

// barLine renders e.g.
// "migrating 3/10 files [=========>          ]  33% 1.2 GiB/4.0 GiB".
func barLine(p migrate.Progress, width int) string {
	frac := 1.0
	if p.BytesTotal > 0 {
		frac = min(float64(p.BytesDone)/float64(p.BytesTotal), 1)
	}
	fill := int(frac * float64(width))
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	return fmt.Sprintf("migrating %d/%d files [%s] %3d%% %s/%s", p.FilesDone, p.FilesTotal, bar,
		int(frac*100), units.Bytes(p.BytesDone), units.Bytes(p.BytesTotal))
}

func (b *migrateBar) finish() { b.con.release() }

// confirm asks on the console whether to take the irreversible step and
// reads the answer from in; only "y" or "yes" agrees.
func confirm(ctx context.Context, in io.Reader, con *console, rm migrate.Removal) (bool, error) {
	fmt.Fprintf(con, "Every file is copied. The next step cannot be undone: %s.\nContinue? [y/N] ", rm)
	answer := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && line == "" {
			errc <- err
			return
		}
		answer <- line
	}()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case err := <-errc:
		if err == io.EOF {
			return false, nil
		}
		return false, fmt.Errorf("read the answer: %w", err)
	case a := <-answer:
		a = strings.ToLower(strings.TrimSpace(a))
		return a == "y" || a == "yes", nil
	}
}
