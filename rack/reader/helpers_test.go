package reader

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/cache"
	"github.com/bootfs/bootfs/rack/client"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

const secret = "s3cret"

// memCache is an in-memory BlockCache that counts Puts and can fail them or
// serve corrupt hits.
type memCache struct {
	mu      sync.Mutex // guards every field
	m       map[cache.Key][]byte
	puts    map[cache.Key]int
	failPut error
	corrupt map[cache.Key]bool
}

func newMemCache() *memCache {
	return &memCache{m: make(map[cache.Key][]byte), puts: make(map[cache.Key]int), corrupt: make(map[cache.Key]bool)}
}

func (c *memCache) Get(k cache.Key, buf []byte) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[k]
	if !ok {
		return 0, false
	}
	n := copy(buf, b)
	if c.corrupt[k] {
		buf[n/2] ^= 1
	}
	return n, true
}

func (c *memCache) Put(k cache.Key, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.puts[k]++
	if c.failPut != nil {
		return c.failPut
	}
	c.m[k] = append([]byte(nil), data...)
	return nil
}

func (c *memCache) putCount(d digest.Digest, i int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.puts[cache.Key{File: d, Index: i}]
}

func (c *memCache) totalPuts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.puts {
		n += v
	}
	return n
}

func (c *memCache) has(d digest.Digest, i int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[cache.Key{File: d, Index: i}]
	return ok
}

var errDiskFull = errors.New("no space left on device")

// newTestClient returns a client for regions with a long backoff and a stall
// timeout short enough for the hang tests, long enough for a loaded machine
// running the race detector.
func newTestClient(tb testing.TB, regions ...*regiontest.Region) *client.Client {
	tb.Helper()
	o := client.Options{Secret: secret, StallTimeout: 2 * time.Second, BackoffInitial: time.Minute}
	for _, r := range regions {
		o.Regions = append(o.Regions, r.URL())
	}
	cl, err := client.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	return cl
}

// newTestReader returns a Reader over c and cl, closed at the end of the
// test.
func newTestReader(tb testing.TB, c BlockCache, cl *client.Client, o ReaderOptions) *Reader {
	r := NewReader(c, cl, o)
	tb.Cleanup(func() { r.Close() })
	return r
}

// idle waits until no block load or readahead is in progress. Only for
// tests that are not reading at the same time.
func (r *Reader) idle() { r.wg.Wait() }

// readAll reads file d sequentially in chunks of n bytes.
func readAll(ctx context.Context, r *Reader, d digest.Digest, size int64, n int) ([]byte, error) {
	out := make([]byte, 0, size)
	buf := make([]byte, n)
	for off := int64(0); ; {
		m, err := r.ReadAt(ctx, d, size, buf, off)
		out = append(out, buf[:m]...)
		off += int64(m)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func cacheKey(d digest.Digest, i int64) cache.Key { return cache.Key{File: d, Index: i} }
