// Package fs is the rack's FUSE file system: a read-only view of the boot
// tree that stock tftpd-hpa and nginx serve from /var/lib/maas/boot.
//
// # What a rack shows
//
// The region sends the tree as a wire.Tree: a flat list of (path, sha256,
// size). Directories are implied by the paths; a directory exists exactly as
// long as some file lives below it, so directories that become empty
// disappear. The bytes behind a file come from a Content, the rack's block
// reader, which hands out only verified bytes; this package never returns
// data Content did not give it, and maps every Content error to EIO (EINTR
// when the kernel interrupted the request). Files the cache holds whole may
// instead be read by the kernel straight from the cache's verified file
// (see Passthrough).
//
// # Snapshots, not a mutable inode tree
//
// The tree lives in an immutable snapshot (type tree) behind an atomic
// pointer. Root.Update validates every entry of a wire.Tree against the
// rules shared with the region (internal/pathrule) and the entries before
// it, leaves out the bad or clashing ones (Root.Skipped lists them; one bad
// entry never keeps the rest out), builds a new snapshot and swaps the
// pointer: every LOOKUP and READDIR answers from exactly one
// snapshot, so a client never sees half an update (a new kernel next to the
// old initrd). Directory nodes implement Lookup and Readdir themselves
// against the current snapshot instead of relying on go-fuse's persistent
// Inode tree, whose per-name mutation is neither atomic across names nor safe
// against a LOOKUP that races an update (go-fuse links the looked-up child
// after Lookup returns, which could silently restore a replaced file).
// go-fuse's Inode tree is still used, as go-fuse intends, as the record of
// what the kernel holds: Update walks it to find which directories need
// invalidating.
//
// # Inode identity
//
// A file's inode is bound to one (path, sha256) forever: its number is a
// hash of both, its attributes never change, and its open handles remember
// the digest. A file whose sha256 changes at the same path therefore gets a
// new inode: a descriptor opened before the update keeps reading the bytes
// it opened, a new open sees only the new bytes, never a mix. A file whose
// (path, sha256) is unchanged keeps its inode, its kernel dentry and its page
// cache across updates. Directory numbers are a hash of the path, the root is
// 1, so a remount or another rack shows the same numbers. With 63-bit numbers
// a collision among 10^5 live inodes has a probability near 10^-9; it is not
// handled.
//
// A file's mtime is derived from its sha256 (a second between 2000 and 2008)
// so nginx's ETag ("mtime-size") and Last-Modified are stable across remounts
// and identical on every rack, yet change whenever the content does, even at
// equal size. Directories carry a fixed mtime (2000-01-01).
//
// # Caching and invalidation
//
// The kernel caches three things, each with its own timeout (Options):
//
//   - file attributes (AttrTimeout, default 1h): immutable per inode;
//   - file names, i.e. which inode a path points to (EntryTimeout, default 1h);
//   - directory names and attributes (DirTimeout, default 1s), and
//     negative lookups (NegativeTimeout, default 10s; pxelinux asks for a
//     dozen missing files per boot).
//
// Long timeouts make lookups nearly free; Update makes changes visible at
// once anyway: after the swap it compares the old and new snapshots and, for
// every directory the kernel knows (found through go-fuse's Inode tree),
// sends NOTIFY_INVAL_ENTRY for each name that appeared, disappeared or now
// points to a different inode, and NOTIFY_INVAL_INODE (attributes only) for
// the directory itself. Invalidating a removed directory's entry drops the
// kernel's whole cached subtree. Content is never invalidated
// (NOTIFY_INVAL_INODE with a data range) because an inode's bytes never
// change. A LOOKUP racing an Update re-checks the snapshot before replying,
// and the kernel's directory lock orders an in-flight lookup before the
// invalidation of the same directory, so a stale answer is not cached past
// the update. The timeouts bound staleness only if a notification is lost.
//
// Files open (unless passed through, see below) with FOPEN_KEEP_CACHE (the
// page cache survives re-opens; it belongs to an inode whose bytes never
// change) and FOPEN_NOFLUSH (close sends no FLUSH; there is nothing to
// flush).
//
// # Read-only
//
// Mount mounts with MS_RDONLY ("ro"), so the kernel refuses writes before
// they reach us. The nodes still answer every mutating operation with EROFS
// themselves: go-fuse answers unimplemented ones with ENOTSUP, and an
// unimplemented Unlink or Rmdir would even "succeed" and drop the child from
// go-fuse's Inode tree.
//
// # Replies without a copy
//
// A Content that implements Lender answers READs without copying the bytes
// into go-fuse's buffer: it lends them, and the reply is written from them
// (one writev from a verified block held in memory) or from a pipe into
// which the kernel spliced a local file range the Content vouches for
// without reading it (the rack cache's content file, only where the cache
// would have served those bytes unchecked, and checked again after the
// splice: see cache.Cache.LendFD). A splice that comes up short is
// discarded and the read goes through Content.ReadAt, never out as a short
// reply. The loan ends when go-fuse has sent the reply (ReadResult.Done).
// Stats counts lent and spliced READs.
//
// # Passthrough
//
// With Options.Passthrough set and a Content that implements Backer, a file
// whose bytes are wholly available, verified, in a local file (the rack
// cache holds it complete) is served by FUSE passthrough (Linux 6.9+,
// go-fuse's FilePassthroughFder): Open asks Backing for a read-only
// descriptor of that file and the kernel reads it directly, with read(2),
// pread(2), splice/sendfile and mmap, instead of sending READs here. Such
// reads bypass Content and the Reads/ReadBytes counters; Stats counts the
// passthrough opens. Empty files are never passed through.
//
// The kernel refuses to have one inode open in caching mode (ordinary READs
// through the page cache) and in passthrough mode at once: an open in the
// other mode fails with EIO. go-fuse registers one backing file per inode,
// the descriptor of the first passthrough open, and marks every later open
// of the inode whose handle can pass through as passthrough, until the last
// of them is released. So each file inode counts its open handles by mode
// and a new open follows the mode already open: beside caching handles it
// is a caching handle (Backing is not even asked, though the file may have
// become wholly cached meanwhile); beside passthrough handles it is a
// passthrough handle sharing the inode's Backing; with nothing open it is a
// passthrough handle if Backing has a file, else a caching one. An inode
// therefore switches modes only when all its handles are closed: a file
// read while it was being cached keeps going through Content until every
// reader closed it. The kernel leaves an open file's mode before it sends
// RELEASE, so a count here is never below the kernel's.
//
// An inode takes one Backing at its first passthrough open and releases it
// with its last passthrough handle: the kernel reads the file registered
// first for as long as any handle is open, so that is how long its bytes
// must stay. The rack cache pins the file's blocks meanwhile (eviction
// passes them over; a block discarded as damaged by another reader keeps
// its bytes until the pin goes).
//
// Registering a backing file needs CAP_SYS_ADMIN, and the backing file must
// live on a non-stacking file system (ext4, xfs, tmpfs; not overlayfs or
// FUSE; go-fuse announces a stacking depth of 1). Otherwise go-fuse silently
// stops trying for the whole mount and the kernel sends READs as usual; a
// passthrough handle answers them from Content, the first such READ is
// logged as a warning, and later opens are caching opens.
package fs
