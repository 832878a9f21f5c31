package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"golang.org/x/sync/singleflight"
)

// blockCacheSize bounds the block digests kept in memory: a 1 GiB file's
// take 32 KiB.
const blockCacheSize = 512

// sha256InfoTTL is how long SHA-256 block digests stay cached: the
// background verifier may record BLAKE3 ones for the file meanwhile
// (files stored by an earlier release), and serving then checks those.
const sha256InfoTTL = time.Minute

// blockInfo is a file's size and block digests as recorded at ingest.
// Content-addressed, so they never change (except that SHA-256 ones may
// gain BLAKE3 ones): caching them saves a database round trip on every
// block a rack fetches.
type blockInfo struct {
	size   int64
	bs     int64
	algo   string // digest.BLAKE3 or digest.SHA256
	blocks []digest.Digest
	at     time.Time // when read from the database
}

type blockCache struct {
	mu sync.Mutex // guards m
	m  map[digest.Digest]blockInfo
	// sha256 makes concurrent requests of clients of an earlier release
	// for the SHA-256 block digests of one file hash it once.
	sha256 singleflight.Group
}

// blockInfo returns d's best block digests (BLAKE3 if recorded, else
// SHA-256), from the cache or the database (db.ErrNotFound if none are
// recorded).
func (s *Server) blockInfo(ctx context.Context, d digest.Digest) (blockInfo, error) {
	c := &s.blocks
	c.mu.Lock()
	bi, ok := c.m[d]
	c.mu.Unlock()
	if ok && (bi.algo != digest.SHA256 || time.Since(bi.at) < sha256InfoTTL) {
		return bi, nil
	}
	r, err := s.d.DB.BlockDigestsOf(ctx, d, "")
	if err != nil {
		return blockInfo{}, err
	}
	bi = blockInfo{size: r.Size, bs: r.BlockSize, algo: r.Algorithm, blocks: r.Blocks, at: time.Now()}
	s.cacheBlocks(d, bi)
	return bi, nil
}

// cacheBlocks keeps bi as d's best block digests.
func (s *Server) cacheBlocks(d digest.Digest, bi blockInfo) {
	c := &s.blocks
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[digest.Digest]blockInfo)
	}
	if _, ok := c.m[d]; !ok && len(c.m) >= blockCacheSize {
		for k := range c.m { // evict one at random
			delete(c.m, k)
			break
		}
	}
	c.m[d] = bi
}

// forgetBlocks drops d from the cache (its file was found damaged; the
// record is re-read when it comes back).
func (s *Server) forgetBlocks(d digest.Digest) {
	s.blocks.mu.Lock()
	delete(s.blocks.m, d)
	s.blocks.mu.Unlock()
}

// BlockDigestsRecorded tells the server that block digests of d were
// recorded (BLAKE3 ones for a file that had SHA-256 ones only): the next
// request reads them from the database.
func (s *Server) BlockDigestsRecorded(d digest.Digest) { s.forgetBlocks(d) }
