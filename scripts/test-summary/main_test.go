package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// stream is go test -json output of two packages: one with a passing, a
// skipped and a failing test (with a failing subtest), one that panicked
// mid-test, a package without tests and a build failure.
const stream = `{"Action":"start","Package":"p/a"}
{"Action":"run","Package":"p/a","Test":"TestOK"}
{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"p/a","Test":"TestOK","Elapsed":0}
{"Action":"run","Package":"p/a","Test":"TestRoot"}
{"Action":"output","Package":"p/a","Test":"TestRoot","Output":"    x_test.go:9: needs root\n"}
{"Action":"output","Package":"p/a","Test":"TestRoot","Output":"--- SKIP: TestRoot (0.00s)\n"}
{"Action":"skip","Package":"p/a","Test":"TestRoot","Elapsed":0}
{"Action":"run","Package":"p/a","Test":"TestBad/sub"}
{"Action":"output","Package":"p/a","Test":"TestBad/sub","Output":"    x_test.go:20: boom\n"}
{"Action":"fail","Package":"p/a","Test":"TestBad/sub","Elapsed":0}
{"Action":"fail","Package":"p/a","Test":"TestBad","Elapsed":0}
{"Action":"output","Package":"p/a","Output":"FAIL\n"}
{"Action":"fail","Package":"p/a","Elapsed":0.1}
{"Action":"run","Package":"p/b","Test":"TestPanic"}
{"Action":"output","Package":"p/b","Test":"TestPanic","Output":"panic: oops\n"}
{"Action":"output","Package":"p/b","Output":"FAIL\tp/b\t0.01s\n"}
{"Action":"fail","Package":"p/b","Elapsed":0.01}
{"Action":"output","Package":"p/c","Output":"?   \tp/c\t[no test files]\n"}
{"Action":"skip","Package":"p/c","Elapsed":0}
{"ImportPath":"p/d [p/d.test]","Action":"build-output","Output":"p/d/d.go:2:1: syntax error\n"}
{"ImportPath":"p/d [p/d.test]","Action":"build-fail"}
not json at all
`

func TestSummary(t *testing.T) {
	var out bytes.Buffer
	s := newSummary(&out)
	for _, l := range strings.Split(strings.TrimSuffix(stream, "\n"), "\n") {
		s.line([]byte(l))
	}
	s.close()
	got := out.String()
	for _, want := range []string{
		"    x_test.go:20: boom\n",                      // a failing test's output
		"panic: oops\n",                                 // an unfinished test of a failed package
		"FAIL\tp/b\t0.01s\n",                            // the package's own output
		"p/d/d.go:2:1: syntax error\n",                  // build errors
		"not json at all\n",                             // anything else, as is
		"skip: p/a TestRoot: x_test.go:9: needs root\n", // one line per skip, with the reason
		"build: 1 packages failed to build\n",           //
		"packages: 0 ok, 2 failed, 1 without tests\n",   //
		"tests: 1 passed, 3 failed, 1 skipped\n",        // the closing line
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "=== RUN   TestOK") {
		t.Errorf("a passing test's output is shown:\n%s", got)
	}
	if !strings.HasSuffix(got, "tests: 1 passed, 3 failed, 1 skipped\n") {
		t.Errorf("the count is not the last line:\n%s", got)
	}
	if !s.bad() {
		t.Error("a stream with failures is not bad")
	}
}

func TestRunExitCode(t *testing.T) {
	if code := run([]string{"sh", "-c", "exit 3"}, io.Discard); code != 3 {
		t.Errorf("command exiting 3: code %d", code)
	}
	if code := run([]string{"sh", "-c", `echo '{"Action":"fail","Package":"p"}'`}, io.Discard); code != 1 {
		t.Errorf("command exiting 0 with a failed package: code %d, want 1", code)
	}
	if code := run([]string{"sh", "-c", `echo '{"Action":"pass","Package":"p"}'`}, io.Discard); code != 0 {
		t.Errorf("passing command: code %d", code)
	}
}
