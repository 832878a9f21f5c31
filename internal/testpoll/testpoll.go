// Package testpoll is the one way tests wait for something that happens
// asynchronously (a goroutine, the kernel, another process): poll a
// condition until it holds, and fail naming what was waited for if it does
// not in time.
package testpoll

import (
	"testing"
	"time"
)

// maxInterval bounds the pause between two polls; the first polls come
// sooner (1 ms, doubling), so a condition that holds quickly costs little.
const maxInterval = 50 * time.Millisecond

// Until polls cond until it holds. If timeout passes first, it fails the
// test with "timed out after TIMEOUT waiting for WHAT". Like t.Fatalf, it
// must be called from the test's goroutine.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for pause := time.Millisecond; !cond(); pause = min(2*pause, maxInterval) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pause)
	}
}
