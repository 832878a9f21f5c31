// Package cache is the rack's on-disk block cache: a byte-bounded store of
// verified file blocks (digest.BlockSize bytes each, the last block of a
// file possibly shorter), named by Key (the file's sha256 and the block
// index). The FUSE layer faults blocks in from a region, verifies each
// against the region's per-block sha256 and Puts it here; every later read
// of that block is a Get (or ReadAt) served from local disk, mostly from the
// kernel page cache. The cache holds no block data in memory itself.
//
// Eviction (policy.go) takes blocks of the file read least often (counted at
// its first block, counts halving as they grow; ties: the file read least
// recently), last blocks first: machines read whole files, so plain LRU let
// one image larger than the cache, or a one-off read, flush the files every
// machine boots. The choice was measured against LRU, segmented LRU,
// S3-FIFO and Belady's optimum on a deployment trace (TestPolicyTrace,
// docs/benchmarks.md). A file larger than the limit can only be read
// through; TooLarge finds such files and suggests a limit.
//
// # Layout
//
// One sparse content file per file digest, block i at offset i*BlockSize:
//
//	Dir/index                          persisted index and eviction order
//	Dir/lock                           flock held while a Cache is open
//	Dir/files/ab/<sha256hex>           the cached blocks of one file
//	Dir/fragile/<sha256hex>            the file was handed to the kernel (fragile.go)
//
// (Dir/tree and Dir/digests/ are the mount's saved tree and block digest
// lists, see package rack (the daemon) and reader.DigestStore; the cache
// leaves them alone.)
//
// where "ab" is the first two hex digits of the digest. Eviction frees a
// block's space by punching its slot out of the file
// (FALLOC_FL_PUNCH_HOLE) and unlinks a file left without blocks. A file
// whose blocks are all cached is then an ordinary local file holding the
// whole content, which Backing hands to the kernel for FUSE passthrough;
// with one file per block that was impossible.
//
// The cache keeps up to 256 content files open (fds.go, in the rack's one
// refcounted LRU, rack/internal/lru), so a warm hit is a single pread into
// the caller's buffer. A block being read, or handed out by Backing, is
// pinned: eviction passes it over (a Put for which pinned blocks and puts
// in flight leave no room fails with ErrNoRoom, found before evicting
// anything in the usual case), and a pinned block discarded as damaged
// leaves the index at once but keeps its bytes until the last holder lets
// go; only then is its
// slot punched, unless a new entry for the same block has taken it
// meanwhile (the bytes of a block are fixed by its digest, so they are the
// same). Punching and unlinking are decided under the cache's lock but done
// after it is released (diskwork.go), so a read never waits behind a disk
// system call; a Put into a file with such work queued or running waits for
// it, so the work never races with a Put of the same block or file, and
// none happens after Close (Close waits for the work running). A read that opens a content file checks afterwards that the file
// is still the one its entry names (a file is unlinked and its record
// dropped together), so it never reads a newer file of the same name.
//
// A file handed out by Backing may be read by the kernel after this
// process is gone (a mount detached lazily with files open, or a crash). A
// durable marker (fragile.go) tells the next process, in the same boot, to
// never punch that file's slots but to evict it whole, by unlinking it.
//
// # Crash safety
//
// Put writes a block into its slot and adds it to the in-memory index only
// when the write succeeded; Flush fsyncs every content file with blocks
// added since the previous Flush (and the directories of new files) before
// it writes the index to a temporary file, fsyncs it and renames it over
// Dir/index. So a persisted index names only blocks whose bytes reached the
// disk before it did. What a crash can leave: blocks written but not named
// (Open frees their slots, found with SEEK_DATA), named blocks whose slot
// was punched or written again since (zeros or the same bytes; either way
// the CRCs below decide before anything is served), files the index does
// not name (removed by Open), or a torn index file (detected by its
// trailing CRC32C; Open then starts empty and clears Dir/files). A block's
// bytes are fixed by its digest and index, so a slot can never hold another
// block's bytes.
//
// # Verification
//
// The index keeps a CRC32-Castagnoli of every 64 KiB chunk of every block
// (64 bytes per block: the index of a full 4 GiB cache is ~460 KiB), so a
// partial read (ReadAt) checks only the chunks it covers. Computing the CRC
// costs about two thirds of the copy itself (CRC32C runs at ~25 GB/s, a warm
// pread at ~17 GB/s on the development machine), so doing it on every hit
// caps a warm hit at ~0.55x a local file read (BenchmarkGetWarmVerifyHits).
// Instead a chunk is checked whenever its bytes may come from the disk rather
// than from what this process wrote or already verified (Backing checks
// every such chunk of a file before handing it out, as the kernel then
// reads it without us):
//
//   - every chunk of an entry loaded from the index at Open is untrusted until
//     a read verifies it, so a torn or corrupted entry left by a crash is
//     never served, unless the index stamped its content file and the file
//     still matches the stamp (device, inode, size, allocated blocks and
//     ctime). Only Close stamps, after the cache stopped changing its
//     files, and only files whose listed blocks were all written or checked
//     by this process, with a stat taken after their fsync; Open
//     rewrites the index without the stamps before it changes anything. So
//     a clean restart does not check every cached byte again, while after
//     a crash, or any write, punch, truncation or edit of a file since the
//     clean stop, its chunks are checked as before. What a stamp cannot see
//     is the medium rotting under an unchanged file, the exposure of every
//     local file (VerifyHits checks every read);
//   - chunks written by Put in this process are trusted (the caller verified
//     the sha256; the write succeeded);
//   - a read of trusted chunks first tries preadv2(RWF_NOWAIT), which only
//     succeeds when the bytes are in the page cache; when they are not, the
//     read goes to the disk and the chunks are checked again. A read going
//     to the disk distrusts its chunks until their CRCs pass (its pages are
//     in the page cache meanwhile, unchecked), so a page-cache-only read,
//     or a LendFD loan (fd.go: a range spliced by the kernel into a FUSE
//     reply), checks after its mincore that its chunks are still trusted;
//     and read descriptors have readahead off, so no chunk's pages come
//     from the disk unless a read asked for them.
//
// Options.VerifyHits checks every chunk on every read instead, at the cost
// above. Bytes pulled into the page cache by something other than this cache
// (for example a backup tool reading Dir) and silently corrupted by the
// medium would be served unchecked without VerifyHits; that is the same
// exposure as any local file nginx serves. A chunk that fails its check, a
// short file or a vanished file discards the entry (counted as Corrupt) and
// the caller fetches the block again.
//
// # Disk errors
//
// Put returns disk errors (ENOSPC, EIO) to the caller, which keeps serving
// from the network. A failed fsync in Flush discards the blocks of that
// file (the kernel may report the error once only, so a later fsync could
// succeed without the lost pages). The cache then marks itself degraded for
// Options.DegradedFor: Put returns ErrDegraded without touching the disk,
// Get keeps serving what is cached, and Stats and the metrics report it.
package cache
