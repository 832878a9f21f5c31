package reader

import (
	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/cache"
)

// BlockCache is the on-disk block cache the Reader fills and reads
// (implemented by *cache.Cache).
//
// Get copies block k into buf (which is digest.BlockSize bytes long) and
// returns its length; ok is false on a miss. It must return only bytes that
// were Put for k, intact: the Reader trusts them unless
// ReaderOptions.VerifyCacheHits is set. Put stores a copy of data, which the
// Reader has verified, as block k; an error is not fatal to the Reader, which
// keeps serving the verified bytes it fetched. Both are called concurrently.
type BlockCache interface {
	Get(k cache.Key, buf []byte) (n int, ok bool)
	Put(k cache.Key, data []byte) error
}

var _ BlockCache = (*cache.Cache)(nil)

// rangeReader is implemented by caches that can read part of a block
// (*cache.Cache does). With it, a read of part of a block that is not in
// memory costs only the bytes asked, not the whole block; its contract is
// Get's.
type rangeReader interface {
	ReadAt(k cache.Key, p []byte, off int64) (n int, ok bool)
}

var _ rangeReader = (*cache.Cache)(nil)

// backer is implemented by caches that can hand out a whole cached file
// (*cache.Cache does); see Reader.Backing.
type backer interface {
	BackingTrusted(d digest.Digest, size int64) (fd int, release func(), ok, trusted bool)
}

var _ backer = (*cache.Cache)(nil)

// discarder is implemented by caches that can drop a whole file
// (*cache.Cache does): the Reader drops a file that failed its whole-file
// sha256 check.
type discarder interface {
	Discard(d digest.Digest, size int64) int
}

var _ discarder = (*cache.Cache)(nil)
