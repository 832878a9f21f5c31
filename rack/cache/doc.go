// Package cache is the rack's on-disk block cache: a byte-bounded LRU of
// verified file blocks (digest.BlockSize bytes each, the last block of a
// file possibly shorter), named by Key (the file's sha256 and the block
// index). The FUSE layer faults blocks in from a region, verifies each
// against the region's per-block sha256 and Puts it here; every later read
// of that block is a Get (or ReadAt) served from local disk, mostly from the
// kernel page cache. The cache holds no block data in memory itself.
//
// # Layout
//
// One file per block:
//
//	Dir/index                          persisted index and LRU order
//	Dir/lock                           flock held while a Cache is open
//	Dir/blocks/ab/<sha256hex>-<index>-<gen>
//
// where "ab" is the first two hex digits of the file digest and gen is a
// generation number unique within the cache directory. A per-block file was
// chosen over a preallocated slab of 1 MiB slots because it is simpler to
// make crash-safe and costs the hot path nothing: the cache keeps up to 256
// recently read block files open (fds.go), so a warm hit is a single pread
// into the caller's buffer, the same system call as the slab's, and a cold
// one adds an open of a path whose dentry is cached.
// A slab, in contrast, needs slot pinning, in-place overwrites (a crash
// mid-write leaves an old index entry over new bytes) and its full size
// allocated up front. With files, eviction is an unlink: a reader that has
// the file open keeps reading the old inode, so eviction can never pull a
// block from under a read in progress; kept descriptors are reference
// counted so none is closed while a read uses it. A reader that loses the
// race before its open gets ENOENT, sees that the entry is gone from the
// index and reports an ordinary miss.
//
// # Crash safety
//
// A block file is written once, under a fresh generation number, and never
// rewritten. Put writes the file and adds it to the in-memory index only
// when the write succeeded; Flush fsyncs every block file added since the
// previous Flush (and their directories) before it writes the index to a
// temporary file, fsyncs it and renames it over Dir/index. So every name in
// a persisted index refers to a file whose bytes reached the disk before the
// index did, and a crash can only leave: files not in the index (removed by
// Open), index entries whose file is gone (dropped by Open or at first
// read), or a torn index file (detected by its trailing CRC32C; Open then
// starts empty and clears Dir/blocks). Because names are never reused, a
// crash during a Put can never make a stale index entry point at new bytes.
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
// than from what this process wrote or already verified:
//
//   - every chunk of an entry loaded from the index at Open is untrusted until
//     a read verifies it, so a torn or corrupted entry left by a crash is
//     never served;
//   - chunks written by Put in this process are trusted (the caller verified
//     the sha256; the write succeeded);
//   - a read of trusted chunks first tries preadv2(RWF_NOWAIT), which only
//     succeeds when the bytes are in the page cache; when they are not, the
//     read goes to the disk and the chunks are checked again.
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
// from the network. The cache then marks itself degraded for
// Options.DegradedFor: Put returns ErrDegraded without touching the disk,
// Get keeps serving what is cached, and Stats and the metrics report it.
package cache
