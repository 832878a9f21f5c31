package reader

import (
	"testing"

	"github.com/bootfs/bootfs/rack/cache/cachetest"
)

// TestBlockCacheConformance holds the in-memory BlockCaches the Reader's
// tests and benchmarks use to the contract the on-disk cache passes
// (rack/cache TestConformance runs the same suite), so a Reader test
// cannot pass on a fake that behaves unlike the real cache.
func TestBlockCacheConformance(t *testing.T) {
	t.Run("memCache", func(t *testing.T) {
		cachetest.Test(t, func(*testing.T) cachetest.BlockCache { return newMemCache() }, cachetest.Options{Retains: true, MinBlocks: 1 << 20})
	})
	t.Run("discardCache", func(t *testing.T) {
		cachetest.Test(t, func(*testing.T) cachetest.BlockCache { return discardCache{} }, cachetest.Options{})
	})
}
