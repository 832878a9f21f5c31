package client

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

// twoRegions returns regions a and b both holding a 3-block file.
func twoRegions(t *testing.T) (a, b *regiontest.Region, d digest.Digest, data []byte) {
	a, b = regiontest.New(t, secret), regiontest.New(t, secret)
	data = regiontest.RandomBytes(3*digest.BlockSize-100, 5)
	d = a.Add(data)
	b.Add(data)
	return a, b, d, data
}

func block(data []byte, i int64) []byte {
	lo := i * digest.BlockSize
	return data[lo:min(lo+digest.BlockSize, int64(len(data)))]
}

// fetch fetches block i of d and checks the bytes when it succeeds.
func fetch(t *testing.T, c *Client, d digest.Digest, data []byte, i int64, holders ...string) (string, error) {
	t.Helper()
	want := block(data, i)
	buf := make([]byte, len(want))
	region, err := c.FetchBlock(context.Background(), d, i*digest.BlockSize, buf, digest.Of(want), holders)
	if err == nil && !bytes.Equal(buf, want) {
		t.Fatalf("block %d: FetchBlock returned wrong bytes without error", i)
	}
	return region, err
}

func TestFetchPrefersHolders(t *testing.T) {
	a, b, d, data := twoRegions(t)
	c, _ := newClient(t, Options{}, a, b)
	for i := range int64(3) {
		if got, err := fetch(t, c, d, data, i, b.URL()+"/"); err != nil || got != b.URL() {
			t.Fatalf("block %d from %q, %v; want the holder %s", i, got, err, b.URL())
		}
	}
	if n := a.Requests("blob"); n != 0 {
		t.Fatalf("non-holder got %d requests", n)
	}
}

func TestFetchCorruptFailover(t *testing.T) {
	a, b, d, data := twoRegions(t)
	a.Corrupt(d, 1, true)
	c, _ := newClient(t, Options{}, a, b)
	got, err := fetch(t, c, d, data, 1, a.URL())
	if err != nil || got != b.URL() {
		t.Fatalf("corrupt holder: served by %q, %v; want %s", got, err, b.URL())
	}
	s := stats(c, a.URL())
	if s.VerifyFailures != 1 || s.BackoffUntil.IsZero() || !strings.Contains(s.LastError, "sha256") {
		t.Fatalf("corrupt region stats %+v", s)
	}

	// With only the corrupt region: an error, never the bytes.
	only, _ := newClient(t, Options{}, a)
	want := block(data, 1)
	buf := make([]byte, len(want))
	_, err = only.FetchBlock(context.Background(), d, digest.BlockSize, buf, digest.Of(want), nil)
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("only a corrupt region: error %v, want ErrCorrupt and ErrUnavailable", err)
	}
}

func TestFetch5xxBackoff(t *testing.T) {
	a, b, d, data := twoRegions(t)
	a.SetStatus(http.StatusServiceUnavailable)
	c, clk := newClient(t, Options{}, a, b)

	if got, err := fetch(t, c, d, data, 0, a.URL()); err != nil || got != b.URL() {
		t.Fatalf("5xx holder: served by %q, %v", got, err)
	}
	first := stats(c, a.URL())
	if first.Errors != 1 || !first.BackoffUntil.After(clk.now()) || !strings.Contains(first.LastError, "503") {
		t.Fatalf("after a 503: %+v", first)
	}
	// While a backs off it is not asked, even though it holds the file.
	for i := range int64(3) {
		if got, err := fetch(t, c, d, data, i, a.URL()); err != nil || got != b.URL() {
			t.Fatalf("block %d during backoff: served by %q, %v", i, got, err)
		}
	}
	if n := a.Requests("blob"); n != 1 {
		t.Fatalf("region in backoff got %d requests, want only the first", n)
	}
	// After the backoff a is tried again; failing again doubles the backoff.
	clk.add(first.BackoffUntil.Sub(clk.now()) + time.Millisecond)
	if got, err := fetch(t, c, d, data, 0, a.URL()); err != nil || got != b.URL() {
		t.Fatalf("retry of a still failing region: %q, %v", got, err)
	}
	second := stats(c, a.URL())
	if a.Requests("blob") != 2 || second.BackoffUntil.Sub(clk.now()) <= first.BackoffUntil.Sub(time.Unix(1_000_000, 0)) {
		t.Fatalf("second failure: %d requests, backoff %v after %v", a.Requests("blob"), second.BackoffUntil.Sub(clk.now()), first.BackoffUntil.Sub(time.Unix(1_000_000, 0)))
	}
	// Healed and past its backoff, a serves again and is healthy.
	a.SetStatus(0)
	clk.add(second.BackoffUntil.Sub(clk.now()) + time.Millisecond)
	if got, err := fetch(t, c, d, data, 2, a.URL()); err != nil || got != a.URL() {
		t.Fatalf("healed region: served by %q, %v", got, err)
	}
	if s := stats(c, a.URL()); !s.BackoffUntil.IsZero() {
		t.Fatalf("healed region still backing off: %+v", s)
	}
}

func TestFetchAllBackingOffStillTried(t *testing.T) {
	a, b, d, data := twoRegions(t)
	a.SetStatus(http.StatusInternalServerError)
	b.SetStatus(http.StatusBadGateway)
	c, _ := newClient(t, Options{}, a, b)
	_, err := fetch(t, c, d, data, 0)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), a.URL()) || !strings.Contains(err.Error(), b.URL()) {
		t.Fatalf("all regions failing: %v, want ErrUnavailable naming both", err)
	}
	// Both back off now; a last-resort attempt still reaches them, so a
	// recovered region serves at once.
	b.SetStatus(0)
	if got, err := fetch(t, c, d, data, 0); err != nil || got != b.URL() {
		t.Fatalf("with every region backing off: %q, %v", got, err)
	}
}

func TestFetchHang(t *testing.T) {
	for _, mode := range []string{"no header", "stalled body"} {
		t.Run(mode, func(t *testing.T) {
			a, b, d, data := twoRegions(t)
			if mode == "no header" {
				a.SetHang(true)
			} else {
				a.SetStallBody(true)
			}
			c, _ := newClient(t, Options{}, a, b)
			if got, err := fetch(t, c, d, data, 1, a.URL()); err != nil || got != b.URL() {
				t.Fatalf("hanging holder: served by %q, %v", got, err)
			}
			if s := stats(c, a.URL()); s.Errors != 1 || !strings.Contains(s.LastError, "stalled") {
				t.Fatalf("hanging region stats %+v", s)
			}
		})
	}
}

func TestFetchRegionKilledMidStream(t *testing.T) {
	a, b, d, data := twoRegions(t)
	a.KillAfter(digest.BlockSize / 2)
	c, _ := newClient(t, Options{}, a, b)
	if got, err := fetch(t, c, d, data, 0, a.URL()); err != nil || got != b.URL() {
		t.Fatalf("region dying mid-block: served by %q, %v", got, err)
	}
	if s := stats(c, a.URL()); s.Errors != 1 || !strings.Contains(s.LastError, "cut") {
		t.Fatalf("dead region stats %+v", s)
	}
}

func TestFetchNotHeldNoPenalty(t *testing.T) {
	a, b, d, data := twoRegions(t)
	empty := regiontest.New(t, secret)
	c, _ := newClient(t, Options{}, empty, a, b)
	if got, err := fetch(t, c, d, data, 0); err != nil || got != a.URL() {
		t.Fatalf("first region lacks the file: served by %q, %v", got, err)
	}
	if s := stats(c, empty.URL()); s.Errors != 0 || !s.BackoffUntil.IsZero() || s.Requests != 1 {
		t.Fatalf("region lacking a file was penalised: %+v", s)
	}
}

func TestFetchContextCancel(t *testing.T) {
	a, b, d, data := twoRegions(t)
	a.SetHang(true)
	b.SetHang(true)
	c, _ := newClient(t, Options{StallTimeout: time.Hour}, a, b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, digest.BlockSize)
		_, err := c.FetchBlock(ctx, d, 0, buf, digest.Of(block(data, 0)), nil)
		done <- err
	}()
	testpoll.Until(t, 10*time.Second, "the fetch to reach the region", func() bool { return a.Requests("blob") > 0 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled fetch: %v", err)
	}
	for _, s := range c.Stats() {
		if s.Errors != 0 || !s.BackoffUntil.IsZero() {
			t.Fatalf("a cancelled fetch penalised %+v", s)
		}
	}
	if b.Requests("blob") != 0 {
		t.Fatal("a cancelled fetch went on to the next region")
	}
}

// TestProbeTimeoutBoundsReadsOfDownRegions: a region that hangs costs a read
// the full stall timeout once; while it backs off, later reads wait at most
// ProbeTimeout for it (also once its backoff ran out), so reads fail fast
// while every region is down.
func TestProbeTimeoutBoundsReadsOfDownRegions(t *testing.T) {
	a := regiontest.New(t, secret)
	data := regiontest.RandomBytes(digest.BlockSize, 7)
	d := a.Add(data)
	a.SetHang(true)
	c, clk := newClient(t, Options{StallTimeout: ProbeTimeout + 2*time.Second}, a)
	buf := make([]byte, digest.BlockSize)
	start := time.Now()
	if _, err := c.FetchBlock(context.Background(), d, 0, buf, digest.Of(data), nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("hanging region: %v", err)
	}
	if took := time.Since(start); took < ProbeTimeout+2*time.Second {
		t.Fatalf("first fetch gave up after %s, before the stall timeout", took)
	}
	clk.add(time.Hour) // the backoff ran out; the region is still failing
	start = time.Now()
	if _, err := c.FetchBlock(context.Background(), d, 0, buf, digest.Of(data), nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("hanging region again: %v", err)
	}
	if took := time.Since(start); took > ProbeTimeout+time.Second {
		t.Errorf("fetch from a region backing off took %s, want at most ProbeTimeout (%s)", took, ProbeTimeout)
	}
	start = time.Now()
	if _, err := c.BlockDigests(context.Background(), d); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("block digests from a hanging region: %v", err)
	}
	if took := time.Since(start); took > ProbeTimeout+time.Second {
		t.Errorf("block digests from a region backing off took %s", took)
	}
	a.SetHang(false)
	if _, err := c.FetchBlock(context.Background(), d, 0, buf, digest.Of(data), nil); err != nil {
		t.Fatalf("recovered region: %v", err)
	}
}
