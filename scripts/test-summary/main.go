// Command test-summary runs `go test -json ...`, shows what a person needs
// from it and ends with a one-line count.
//
// Usage:
//
//	go run ./scripts/test-summary [--] go test -json [FLAGS] [PACKAGES]
//
// It prints, as they finish: "ok PKG (ELAPSED)" for every package that
// passed, the full output of every test that failed (and of its package when
// the package failed: build errors, panics, timeouts), one "skip: PKG TEST:
// REASON" line for every skipped test, and at the end
//
//	packages: N ok, N failed, N without tests
//	tests: N passed, N failed, N skipped
//
// (tests count every test, subtest and fuzz seed that ran; a test cut short
// by a panic or a timeout counts as failed). It exits with the
// command's status, or 1 when the command exited 0 but a failure was seen.
// The command's standard error passes through untouched.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string // build-output, build-fail
}

type testKey struct{ pkg, test string }

// summary accumulates the stream; w is where it writes.
type summary struct {
	w io.Writer

	testOut map[testKey][]string // output of tests still running
	pkgOut  map[string][]string  // package-level output of packages still running
	running map[testKey]bool

	passed, failed, skipped int
	pkgOK, pkgFail, pkgNone int
	buildFail               int
	skips                   []string
}

func newSummary(w io.Writer) *summary {
	return &summary{
		w:       w,
		testOut: make(map[testKey][]string),
		pkgOut:  make(map[string][]string),
		running: make(map[testKey]bool),
	}
}

// line handles one line of the stream.
func (s *summary) line(b []byte) {
	var e event
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &e) != nil || e.Action == "" {
		fmt.Fprintf(s.w, "%s\n", b) // not test2json: show as is
		return
	}
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.w, e.Output)
		return
	case "build-fail":
		s.buildFail++
		return
	}
	if e.Test != "" {
		s.testEvent(e)
	} else {
		s.pkgEvent(e)
	}
}

func (s *summary) testEvent(e event) {
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "run":
		s.running[k] = true
	case "output":
		s.testOut[k] = append(s.testOut[k], e.Output)
	case "pass":
		s.passed++
		s.end(k)
	case "fail":
		s.failed++
		fmt.Fprint(s.w, strings.Join(s.testOut[k], ""))
		s.end(k)
	case "skip":
		s.skipped++
		s.skips = append(s.skips, fmt.Sprintf("skip: %s %s: %s", e.Package, e.Test, skipReason(s.testOut[k])))
		s.end(k)
	}
}

func (s *summary) end(k testKey) {
	delete(s.testOut, k)
	delete(s.running, k)
}

func (s *summary) pkgEvent(e event) {
	switch e.Action {
	case "output":
		s.pkgOut[e.Package] = append(s.pkgOut[e.Package], e.Output)
	case "pass":
		s.pkgOK++
		fmt.Fprintf(s.w, "ok   %s (%.1fs)\n", e.Package, e.Elapsed)
		s.endPkg(e.Package, false)
	case "skip":
		s.pkgNone++
		s.endPkg(e.Package, false)
	case "fail":
		s.pkgFail++
		s.endPkg(e.Package, true)
	}
}

// endPkg forgets a finished package; when it failed, it first shows the
// output of its tests that never finished (a panic or a timeout) and its
// package-level output.
func (s *summary) endPkg(pkg string, failed bool) {
	var open []testKey
	for k := range s.testOut {
		if k.pkg == pkg {
			open = append(open, k)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].test < open[j].test })
	for _, k := range open {
		if failed { // it never finished: a panic, a timeout or os.Exit
			s.failed++
			fmt.Fprint(s.w, strings.Join(s.testOut[k], ""))
		}
		s.end(k)
	}
	if failed {
		fmt.Fprint(s.w, strings.Join(s.pkgOut[pkg], ""))
	}
	delete(s.pkgOut, pkg)
}

// skipReason picks the message a skipped test logged.
func skipReason(out []string) string {
	var msgs []string
	for _, l := range out {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		msgs = append(msgs, t)
	}
	if len(msgs) == 0 {
		return "(no reason given)"
	}
	return strings.Join(msgs, " / ")
}

// close writes the skips and the closing lines.
func (s *summary) close() {
	for _, l := range s.skips {
		fmt.Fprintln(s.w, l)
	}
	if s.buildFail > 0 {
		fmt.Fprintf(s.w, "build: %d packages failed to build\n", s.buildFail)
	}
	fmt.Fprintf(s.w, "packages: %d ok, %d failed, %d without tests\n", s.pkgOK, s.pkgFail, s.pkgNone)
	fmt.Fprintf(s.w, "tests: %d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
}

func (s *summary) bad() bool { return s.failed > 0 || s.pkgFail > 0 || s.buildFail > 0 }

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: test-summary [--] go test -json [FLAGS] [PACKAGES]")
		os.Exit(2)
	}
	os.Exit(run(args, os.Stdout))
}

// run runs the command, writes the summary of its output to stdout and
// returns the exit code.
func run(args []string, stdout io.Writer) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "test-summary: %v\n", err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "test-summary: %v\n", err)
		return 2
	}
	// Pass SIGINT and SIGTERM on to the command and wait for it to end
	// (a ^C reaches it through the process group too; twice does no harm):
	// it cleans up (with-postgres removes its server) and fails, and the
	// summary still closes the log.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			_ = cmd.Process.Signal(sig)
		}
	}()

	w := bufio.NewWriter(stdout)
	s := newSummary(w)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		s.line(sc.Bytes())
		if !strings.Contains(sc.Text(), `"Action":"output"`) {
			w.Flush()
		}
	}
	scanErr := sc.Err()
	if scanErr != nil {
		_, _ = io.Copy(io.Discard, out) // let the child finish
	}
	waitErr := cmd.Wait()
	s.close()
	w.Flush()

	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(waitErr, &ee):
		code = ee.ExitCode()
		if code <= 0 {
			code = 1 // killed by a signal
		}
	case waitErr != nil:
		fmt.Fprintf(os.Stderr, "test-summary: %v\n", waitErr)
		code = 2
	}
	if scanErr != nil {
		fmt.Fprintf(os.Stderr, "test-summary: reading the test output: %v\n", scanErr)
		code = max(code, 1)
	}
	if code == 0 && s.bad() {
		code = 1
	}
	return code
}
