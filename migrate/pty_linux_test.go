package migrate

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the master (the test's side) and
// the slave (the command's terminal).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pty slave: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// screen replays terminal output the way a terminal shows it (carriage
// return, erase line, overwrite) and returns the lines left on screen.
func screen(out string) []string {
	var lines []string
	var cur []rune
	col := 0
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; {
		case c == '\r':
			col = 0
		case c == '\n':
			lines = append(lines, string(cur))
			cur, col = nil, 0
		case c == '\033' && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] < '@' || rs[j] > '~') {
				j++
			}
			if j < len(rs) && rs[j] == 'K' {
				switch string(rs[i+2 : j]) {
				case "", "0":
					cur = cur[:min(col, len(cur))]
				case "2":
					cur = nil
				}
			}
			i = j
		default:
			for len(cur) <= col {
				cur = append(cur, ' ')
			}
			cur[col] = c
			col++
		}
	}
	return append(lines, string(cur))
}

// At a terminal, migrate asks before the irreversible step, and log lines
// written while the progress bar is shown go above it, never into it.
func TestCLIAtTerminal(t *testing.T) {
	t.Parallel()
	bin := buildRegion(t)
	l := newSmallLegacy(t)
	r := newRegion(t, "", "region1", "")
	master, slave := openPTY(t)

	cmd := exec.Command(bin, "migrate", "--from-database", l.url, "--database-url", r.url,
		"--storage", r.store.Dir(), "--name", "region1")
	var stdout bytes.Buffer
	cmd.Stdin, cmd.Stderr, cmd.Stdout = slave, slave, &stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var mu sync.Mutex
	var term bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			term.Write(buf[:n])
			mu.Unlock()
			if err != nil { // EIO once the command closed the terminal
				return
			}
		}
	}()
	shown := func() string { mu.Lock(); defer mu.Unlock(); return term.String() }
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(shown(), "[y/N]") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no confirmation prompt after a minute; terminal shows:\n%q", shown())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Nothing is deleted before the answer.
	if lfs, _, _ := l.counts(); lfs != 3 {
		t.Fatalf("%d largefiles left before the answer, want 3", lfs)
	}
	if _, err := io.WriteString(master, "y\n"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("migrate: %v\nterminal:\n%q\nstdout:\n%s", err, shown(), stdout.String())
	}
	<-readDone
	raw := shown()
	if !strings.Contains(stdout.String(), "deleted 1 largefiles") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	if lfs, _, _ := l.counts(); lfs != 2 {
		t.Errorf("%d largefiles left after yes, want the 2 unverified", lfs)
	}

	// Log lines were written while the bar was shown...
	firstBar := strings.Index(raw, "migrating 0/2 files [")
	if firstBar < 0 || !strings.Contains(raw[firstBar:], "msg=migrated") || !strings.Contains(raw[firstBar:], "msg=\"not migrated\"") {
		t.Fatalf("no log line after the bar was first drawn:\n%q", raw)
	}
	// ...and on screen every log line starts a line of its own, the bar
	// stays whole, and the prompt follows the final bar.
	lines := screen(raw)
	var bars int
	for _, line := range lines {
		if strings.Contains(line, "level=") && !strings.HasPrefix(line, "time=") {
			t.Errorf("log line mixed with other output on screen: %q", line)
		}
		if strings.Contains(line, "migrating ") && strings.Contains(line, " files [") {
			bars++
			if !strings.HasPrefix(line, "migrating ") || strings.Contains(line, "level=") {
				t.Errorf("bar mixed with other output on screen: %q", line)
			}
		}
	}
	if bars != 1 || !strings.Contains(strings.Join(lines, "\n"), "migrating 2/2 files [==============================] 100%") {
		t.Errorf("want the final bar once on screen; screen:\n%s", strings.Join(lines, "\n"))
	}
	if t.Failed() {
		t.Logf("raw terminal output:\n%q", raw)
	}
}
