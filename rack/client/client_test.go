package client

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

const secret = "s3cret"

// clock is a settable time source for backoff tests.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newClient returns a Client for regions with a short stall timeout, a
// minute of initial backoff (so a backoff never ends by itself during a
// test) and a fake clock.
func newClient(t *testing.T, o Options, regions ...*regiontest.Region) (*Client, *clock) {
	t.Helper()
	for _, r := range regions {
		o.Regions = append(o.Regions, r.URL())
	}
	if o.Secret == "" {
		o.Secret = secret
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = 300 * time.Millisecond
	}
	if o.BackoffInitial == 0 {
		o.BackoffInitial = time.Minute
		o.BackoffMax = 8 * time.Minute
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Unix(1_000_000, 0)}
	c.now = clk.now
	return c, clk
}

func stats(c *Client, url string) RegionStats {
	for _, s := range c.Stats() {
		if s.URL == url {
			return s
		}
	}
	panic("no region " + url)
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no regions", Options{Secret: "x"}, "no region"},
		{"no secret", Options{Regions: []string{"http://a:1"}}, "secret"},
		{"bad scheme", Options{Secret: "x", Regions: []string{"http://a:1", "ftp://b:2"}}, `"ftp://b:2"`},
		{"no host", Options{Secret: "x", Regions: []string{"http://"}}, `"http://"`},
		{"query", Options{Secret: "x", Regions: []string{"http://a/?x=1"}}, `"http://a/?x=1"`},
		{"unparsable", Options{Secret: "x", Regions: []string{"http://a b:%%"}}, `"http://a b:%%"`},
		{"duplicate", Options{Secret: "x", Regions: []string{"http://a:1", "http://a:1/"}}, "twice"},
	} {
		_, err := New(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New error = %v, want it to mention %s", tc.name, err, tc.want)
		}
	}
	c, err := New(Options{Secret: "x", Regions: []string{"https://r1.example:5240/", "http://10.0.0.2:5240"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Stats()[0].URL; got != "https://r1.example:5240" {
		t.Fatalf("URL kept as %q, want it without the trailing slash", got)
	}
}

func TestWrongSecret(t *testing.T) {
	a, b := regiontest.New(t, secret), regiontest.New(t, secret)
	d := a.Add([]byte("kernel"))
	b.Add([]byte("kernel"))
	a.SetTree(wire.Tree{Generation: "1"})
	c, _ := newClient(t, Options{Secret: "wrong"}, a, b)
	ctx := context.Background()

	_, _, err := c.Tree(ctx, "", 0)
	if !errors.Is(err, ErrUnauthorized) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Tree error = %v, want ErrUnauthorized and ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), a.URL()) {
		t.Errorf("error %q should say the secret was refused and by which region", err)
	}
	if _, err := c.BlockDigests(ctx, d); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("BlockDigests error = %v, want ErrUnauthorized", err)
	}
	buf := make([]byte, 6)
	if _, err := c.FetchBlock(ctx, d, 0, buf, digest.Of([]byte("kernel")), nil); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("FetchBlock error = %v, want ErrUnauthorized", err)
	}
}

func TestMetrics(t *testing.T) {
	a := regiontest.New(t, secret)
	data := regiontest.RandomBytes(3000, 1)
	d := a.Add(data)
	reg := prometheus.NewRegistry()
	c, _ := newClient(t, Options{Metrics: reg}, a)
	// A second client on the same registry shares the collectors.
	if _, err := New(Options{Regions: []string{a.URL()}, Secret: secret, Metrics: reg}); err != nil {
		t.Fatalf("second client on one registry: %v", err)
	}
	buf := make([]byte, 1000)
	if _, err := c.FetchBlock(context.Background(), d, 1000, buf, digest.Of(data[1000:2000]), nil); err != nil {
		t.Fatal(err)
	}
	a.Corrupt(d, 0, true)
	if _, err := c.FetchBlock(context.Background(), d, 0, buf, digest.Of(data[:1000]), nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt fetch error = %v", err)
	}
	got := gather(t, reg)
	want := map[string]float64{
		"bootfs_rack_region_fetched_bytes_total":   1000,
		"bootfs_rack_region_requests_total":        2,
		"bootfs_rack_region_errors_total":          1,
		"bootfs_rack_region_verify_failures_total": 1,
		"bootfs_rack_region_fetch_seconds":         1, // sample count
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
}

// gather returns each metric family's value summed over labels (histograms:
// the sample count).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				out[mf.GetName()] += m.Counter.GetValue()
			case m.Histogram != nil:
				out[mf.GetName()] += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestBlockDigests(t *testing.T) {
	a, b := regiontest.New(t, secret), regiontest.New(t, secret)
	data := regiontest.RandomBytes(2*digest.BlockSize+5, 2)
	d := a.Add(data)
	b.Add(data)
	c, _ := newClient(t, Options{}, a, b)
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			bd, err := c.BlockDigests(ctx, d)
			switch {
			case err != nil:
				errs <- err
			case bd.Algorithm != digest.BLAKE3 || len(bd.Blocks) != 3 || bd.Blocks[2] != digest.BlockSum(digest.BLAKE3, data[2*digest.BlockSize:]):
				errs <- errors.New("wrong block digests")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := c.BlockDigests(ctx, d); err != nil {
		t.Fatal(err)
	}
	if n := a.Requests("blocks") + b.Requests("blocks"); n != 1 {
		t.Fatalf("21 lookups of one file made %d requests, want 1", n)
	}

	// A region whose list does not match the file's size is corrupt; the
	// other region's list is used.
	data2 := regiontest.RandomBytes(digest.BlockSize+1, 3)
	d2 := a.Add(data2)
	b.Add(data2)
	bad := &wire.BlockDigests{SHA256: d2, Size: int64(len(data2)), BlockSize: digest.BlockSize, Blocks: []digest.Digest{digest.Of(data2)}}
	a.SetBlockDigests(d2, bad)
	bd, err := c.BlockDigests(ctx, d2)
	if err != nil || len(bd.Blocks) != 2 {
		t.Fatalf("BlockDigests with one bad region = %v, %v", bd, err)
	}
	if s := stats(c, a.URL()); s.VerifyFailures != 1 || s.BackoffUntil.IsZero() {
		t.Fatalf("region with a bad list: %+v, want one verify failure and backoff", s)
	}
	// With only bad lists the error says so.
	d3 := a.Add([]byte("x"))
	a.SetBlockDigests(d3, &wire.BlockDigests{SHA256: d3, Size: 1, BlockSize: 4096, Blocks: []digest.Digest{digest.Of([]byte("x"))}})
	if _, err := c.BlockDigests(ctx, d3); !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("only bad lists: error = %v, want ErrCorrupt and ErrUnavailable", err)
	}
}

func TestBackoffPolicy(t *testing.T) {
	for range 50 {
		b := newBackOff(time.Second, 10*time.Second)
		for i, base := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
			d := b.NextBackOff()
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("failure %d: backoff %v, want %v +-20%%", i+1, d, base)
			}
		}
		b.Reset()
		if d := b.NextBackOff(); d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("after a success: backoff %v, want 1s +-20%%", d)
		}
	}
}

func TestTree(t *testing.T) {
	a := regiontest.New(t, secret)
	kernel := digest.Of([]byte("k"))
	a.SetTree(wire.Tree{Generation: "7", Files: []wire.Entry{{Path: "boot-kernel", SHA256: kernel, Size: 1}}})
	c, _ := newClient(t, Options{}, a)
	ctx := context.Background()

	tr, etag, err := c.Tree(ctx, "", 0)
	if err != nil || tr == nil || tr.Generation != "7" || len(tr.Files) != 1 || tr.Files[0].SHA256 != kernel {
		t.Fatalf("Tree = %+v, %q, %v", tr, etag, err)
	}
	tr, etag2, err := c.Tree(ctx, etag, 0)
	if err != nil || tr != nil || etag2 != etag {
		t.Fatalf("unchanged Tree = %+v, %q, %v; want nil, %q, nil", tr, etag2, err, etag)
	}
	// A long-poll that times out says "unchanged".
	tr, _, err = c.Tree(ctx, etag, 10*time.Millisecond)
	if err != nil || tr != nil {
		t.Fatalf("expired long-poll = %+v, %v", tr, err)
	}
	// A long-poll longer than the stall timeout returns the change.
	type result struct {
		tr  *wire.Tree
		tag string
		err error
	}
	done := make(chan result, 1)
	go func() {
		tr, tag, err := c.Tree(ctx, etag, time.Minute)
		done <- result{tr, tag, err}
	}()
	testpoll.Until(t, 10*time.Second, "the long-poll to reach the region", func() bool { return a.TreeWaits() > 0 })
	time.Sleep(2 * c.stall) // the poll must survive the stall watchdog
	a.SetTree(wire.Tree{Generation: "8"})
	res := <-done
	if res.err != nil || res.tr == nil || res.tr.Generation != "8" || res.tag == etag {
		t.Fatalf("long-poll = %+v, %q, %v", res.tr, res.tag, res.err)
	}
}

func TestTreeFailover(t *testing.T) {
	a, b := regiontest.New(t, secret), regiontest.New(t, secret)
	a.SetTree(wire.Tree{Generation: "1"})
	b.SetTree(wire.Tree{Generation: "1"})
	a.Close()
	c, _ := newClient(t, Options{}, a, b)
	tr, _, err := c.Tree(context.Background(), "", 0)
	if err != nil || tr.Generation != "1" {
		t.Fatalf("Tree with first region down = %+v, %v", tr, err)
	}
	if s := stats(c, a.URL()); s.Errors != 1 || s.BackoffUntil.IsZero() {
		t.Fatalf("down region stats %+v, want an error and backoff", s)
	}
}

func TestFetchBlockRanges(t *testing.T) {
	a := regiontest.New(t, secret)
	data := regiontest.RandomBytes(digest.BlockSize+777, 4)
	d := a.Add(data)
	c, _ := newClient(t, Options{}, a)
	for _, r := range [][2]int{{0, digest.BlockSize}, {digest.BlockSize, digest.BlockSize + 777}, {5, 6}, {0, len(data)}} {
		buf := make([]byte, r[1]-r[0])
		got, err := c.FetchBlock(context.Background(), d, int64(r[0]), buf, digest.Of(data[r[0]:r[1]]), nil)
		if err != nil || got != a.URL() || !bytes.Equal(buf, data[r[0]:r[1]]) {
			t.Fatalf("FetchBlock %v = %q, %v (bytes equal: %v)", r, got, err, bytes.Equal(buf, data[r[0]:r[1]]))
		}
	}
	// Past the end: the region answers 416, an error.
	buf := make([]byte, 10)
	if _, err := c.FetchBlock(context.Background(), d, int64(len(data)), buf, digest.Of(nil), nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("fetch past EOF: %v", err)
	}
}
