// Package reader is the rack's block reader: the Reader that serves the
// bytes of boot files to the FUSE layer (package fs) from the on-disk block
// cache (package rack/cache) and, on a miss, from the regions (package
// rack/client).
//
// # How a read is served
//
// A file is named by its sha256 and cut into digest.BlockSize (1 MiB)
// blocks; the region publishes the sha256 of every block. Reader.ReadAt maps
// the byte range asked to blocks, and for each block looks, in order:
//
//  1. in memory: a small LRU of verified blocks (ReaderOptions.MemoryBlocks,
//     16 by default; the rack's one refcounted LRU, rack/internal/lru). FUSE reads are 128 KiB, so a block read sequentially is
//     asked for eight times; this keeps those eight from turning into eight
//     disk reads, or eight network fetches when the disk cache is failing;
//  2. in the BlockCache (disk). Its contract is that Get returns only what
//     was Put, intact; the cache checks its own integrity (rack/cache keeps
//     CRC32C per chunk). ReaderOptions.VerifyCacheHits re-checks the sha256
//     of blocks read from it as well;
//  3. at a region, through client.FetchBlock, which returns only bytes whose
//     sha256 matches the block's. The block is then Put in the cache; if the
//     Put fails (disk full or failing) the read still returns the verified
//     bytes: the reader degrades to fetch-through.
//
// Bytes reach the caller's buffer only from a block that passed one of those
// checks; a block that fails verification is neither cached nor returned.
//
// A read first needs the file's block digest list: from memory, else from
// the DigestStore on disk (ReaderOptions.Digests), else from a region, and
// then it is stored, so that cached files stay readable after a restart
// while no region answers.
//
// # Whole-file check
//
// A per-block check trusts the region's block digest list. A list that
// describes other bytes (and a region serving those bytes) would pass it, so
// before a wholly cached file is first handed to the kernel for passthrough
// (Backing) its whole content is hashed and compared with the file's sha256
// (whole.go). The result is recorded in the DigestStore and believed after a
// restart only while the cache's stamps vouch for the file; a block fetched
// again clears it. A file that fails is never handed out, its blocks are
// dropped from the cache, its list forgotten, and its reads fail with
// ErrBadFile while regions send the same list.
//
// # Concurrency
//
// Loading a block (steps 2 and 3) happens once however many readers want it
// at the same time: loads are singleflighted per (file, block), and run
// detached from the caller's context so that one FUSE request being
// interrupted does not fail the others waiting on the same block. Fetches
// from regions are bounded by a weighted semaphore (ReaderOptions.MaxFetches).
// Memory is bounded: block buffers come from a free list of buffers on
// transparent huge pages (blockbuf.go) and live only in the in-memory LRU,
// in loads in progress and while being copied out.
//
// # Readahead
//
// The Reader remembers, per file, where the last read ended. A read that
// starts at offset 0 or near where the previous one ended is sequential: the
// Reader then starts background loads of the next ReaderOptions.Readahead
// blocks, so that a single sequential reader has that many fetches in flight
// and goes at network speed rather than at one round trip per block. These
// loads are the same singleflighted loads, so a foreground read of a block
// being read ahead waits for that load instead of starting another. Readahead
// only takes free fetch slots (never more than three quarters of them) and
// never queues behind foreground fetches.
package reader
