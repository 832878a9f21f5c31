package cache_test

import (
	"sync"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/cache"
	"github.com/bootfs/bootfs/rack/cache/cachetest"
)

// TestConformance runs the BlockCache conformance suite against the on-disk
// cache: roomy, roomy with every hit verified, and so small that the suite
// overflows it (then it may forget, never serve wrong bytes).
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      cache.Options
		retain bool
		blocks int
	}{
		{"Roomy", cache.Options{Limit: 32 * digest.BlockSize}, true, 32},
		{"VerifyHits", cache.Options{Limit: 32 * digest.BlockSize, VerifyHits: true}, true, 32},
		{"Tiny", cache.Options{Limit: 3 * digest.BlockSize}, false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex // guards dirs
			dirs := map[*cache.Cache]string{}
			open := func(t *testing.T, dir string) *cache.Cache {
				o := tc.o
				o.Dir = dir
				c, err := cache.Open(o)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				mu.Lock()
				dirs[c] = dir
				mu.Unlock()
				return c
			}
			cachetest.Test(t, func(t *testing.T) cachetest.BlockCache { return open(t, t.TempDir()) }, cachetest.Options{
				Retains:   tc.retain,
				MinBlocks: tc.blocks,
				Reopen: func(t *testing.T, bc cachetest.BlockCache) cachetest.BlockCache {
					c := bc.(*cache.Cache)
					if err := c.Close(); err != nil {
						t.Fatalf("Close: %v", err)
					}
					mu.Lock()
					dir := dirs[c]
					mu.Unlock()
					return open(t, dir)
				},
			})
		})
	}
}
