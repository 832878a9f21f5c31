package testpoll

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatalTB records a Fatalf and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls Until with a fatalTB in its own goroutine and returns the
// failure message, "" if none.
func run(timeout time.Duration, what string, cond func() bool) string {
	f := &fatalTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Until(f, timeout, what, cond)
	}()
	<-done
	return f.msg
}

func TestUntilHolds(t *testing.T) {
	calls := 0
	if msg := run(10*time.Second, "the fifth call", func() bool { calls++; return calls == 5 }); msg != "" {
		t.Fatalf("failed: %s", msg)
	}
	if calls != 5 {
		t.Fatalf("cond called %d times, want 5", calls)
	}
}

func TestUntilTimesOut(t *testing.T) {
	start := time.Now()
	msg := run(100*time.Millisecond, "the impossible", func() bool { return false })
	if want := "timed out after 100ms waiting for the impossible"; msg != want {
		t.Fatalf("message %q, want %q", msg, want)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
		t.Fatalf("gave up after %s, want about 100ms", d)
	}
	if strings.Contains(run(time.Second, "x", func() bool { return true }), "timed out") {
		t.Fatal("a condition that holds at once timed out")
	}
}
