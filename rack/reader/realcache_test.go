package reader

import (
	"bytes"
	"context"
	"testing"

	"github.com/bootfs/bootfs/rack/cache"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

func openCache(t *testing.T, o cache.Options) *cache.Cache {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	c, err := cache.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRealCache reads through the on-disk cache of package rack/cache: a
// cold read fills it, and a second Reader (empty memory) is served from it
// without asking the region, in whole blocks and in parts of blocks.
func TestRealCache(t *testing.T) {
	region := regiontest.New(t, secret)
	data := regiontest.RandomBytes(5*bs+999, 10)
	d := region.Add(data)
	size := int64(len(data))
	c := openCache(t, cache.Options{})
	cl := newTestClient(t, region)

	cold := newTestReader(t, c, cl, ReaderOptions{})
	got, err := readAll(context.Background(), cold, d, size, 128<<10)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("cold read: %v, bytes equal %v", err, bytes.Equal(got, data))
	}
	cold.idle()
	if s := c.Stats(); s.Blocks != 6 {
		t.Fatalf("cache holds %d blocks after a cold read, want 6", s.Blocks)
	}
	fetched := region.Served()

	for _, chunk := range []int{128 << 10, bs, 3*bs + 7} {
		warm := newTestReader(t, c, cl, ReaderOptions{})
		got, err := readAll(context.Background(), warm, d, size, chunk)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("warm read in chunks of %d: %v, bytes equal %v", chunk, err, bytes.Equal(got, data))
		}
		warm.idle()
		if s := warm.Stats(); s.Fetches != 0 || s.Misses != 0 || s.Hits == 0 {
			t.Fatalf("warm read in chunks of %d: stats %+v, want hits only", chunk, s)
		}
	}
	if region.Served() != fetched {
		t.Fatal("warm reads fetched from the region")
	}
}

// TestRealCachePutFails uses a cache too small to hold a block: every Put
// fails, and reads are served from the network all the same.
func TestRealCachePutFails(t *testing.T) {
	region := regiontest.New(t, secret)
	data := regiontest.RandomBytes(3*bs+1, 11)
	d := region.Add(data)
	c := openCache(t, cache.Options{Limit: bs / 2})
	r := newTestReader(t, c, newTestClient(t, region), ReaderOptions{})
	got, err := readAll(context.Background(), r, d, int64(len(data)), 128<<10)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with a failing cache: %v, bytes equal %v", err, bytes.Equal(got, data))
	}
	r.idle()
	if s := r.Stats(); s.PutErrors != 3 {
		t.Fatalf("stats %+v, want 3 put errors (the 1-byte last block fits)", s)
	}
}
