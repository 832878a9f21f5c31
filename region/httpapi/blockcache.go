package httpapi

import (
	"context"
	"sync"

	"github.com/bootfs/bootfs/internal/digest"
)

// blockCacheSize bounds the block digests kept in memory: a 1 GiB file's
// take 32 KiB.
const blockCacheSize = 512

// blockInfo is a file's size and block digests as recorded at ingest.
// Content-addressed, so it never changes: caching it saves a database
// round trip on every block a rack fetches.
type blockInfo struct {
	size   int64
	bs     int64
	blocks []digest.Digest
}

type blockCache struct {
	mu sync.Mutex
	m  map[digest.Digest]blockInfo
}

// blockInfo returns d's block digests, from the cache or the database
// (db.ErrNotFound if none are recorded).
func (s *Server) blockInfo(ctx context.Context, d digest.Digest) (blockInfo, error) {
	c := &s.blocks
	c.mu.Lock()
	bi, ok := c.m[d]
	c.mu.Unlock()
	if ok {
		return bi, nil
	}
	size, bs, blocks, err := s.d.DB.BlockDigests(ctx, d)
	if err != nil {
		return blockInfo{}, err
	}
	bi = blockInfo{size: size, bs: bs, blocks: blocks}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[digest.Digest]blockInfo)
	}
	if len(c.m) >= blockCacheSize {
		for k := range c.m { // evict one at random
			delete(c.m, k)
			break
		}
	}
	c.m[d] = bi
	c.mu.Unlock()
	return bi, nil
}

// forgetBlocks drops d from the cache (its file was found damaged; the
// record is re-read when it comes back).
func (s *Server) forgetBlocks(d digest.Digest) {
	s.blocks.mu.Lock()
	delete(s.blocks.m, d)
	s.blocks.mu.Unlock()
}
