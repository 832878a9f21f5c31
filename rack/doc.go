// Package rack is the rack daemon: it runs a rack's boot tree mount. It
// wires the region client (rack/client), the on-disk block cache
// (rack/cache), the verified block reader (rack/reader) and the FUSE file
// system (package fs) into one running mount, and keeps it in step with the
// regions.
//
// # Lifecycle
//
// Start does everything that can fail before anything is mounted: it reads
// the shared secret, binds the metrics listener (if asked for), opens and
// locks the cache directory, and fetches the boot tree from the regions.
// If none answers it falls back on the tree saved in the cache directory
// by an earlier mount (saved.go; waiting at most Config.OfflineAfter for
// the regions when there is one) and mounts offline: the cached files are
// served (their block digest lists are saved beside them, reader.DigestStore)
// and the follower keeps trying the regions. With no saved tree it fails
// with every region's error. Only then does it
// install the tree and mount the file system read-only, so a mount that
// exists is a mount that serves. Once Start returns, the mount is live:
// tftpd-hpa and nginx can read it. Start also raises the kernel's readahead
// on the mount (Config.KernelReadahead, 4 MiB): FUSE starts every mount at
// 128 KiB, which cuts a sequential read into 128 KiB requests, one at a
// time; with 4 MiB the kernel asks for whole 1 MiB blocks, several at once.
// If the cache directory is still held by a bootfs that is stopping (umount
// followed at once by mount), Start waits a little for it.
//
// The mount then runs until Close, or until someone else unmounts it
// (umount, fusermount3 -u): Done is closed then and Wait returns. Close
// unmounts (lazily, and waiting at most Config.DrainTimeout for open files
// to be closed, if the mount is busy), stops the tree follower, waits for
// the block loads in flight, flushes the cache index and releases the cache
// directory. The cache survives: the next mount of the same directory
// serves what it holds without asking a region.
//
// # Following the regions
//
// A follower long-polls the tree (client.Tree with the current ETag and
// Config.TreeWait): a region answers as soon as the tree changes, or with
// "not modified" when the wait runs out. Every new tree is installed with
// fs.Root.Update, which swaps it atomically, and its holders (which regions
// hold a complete copy of each file, Entry.Regions mapped to URLs through
// Tree.Regions) are handed to the reader, which asks those regions first.
// fs applies the valid part of every tree: entries it skips (bad paths,
// clashes) are logged once each and counted in Status and the metrics.
// Every tree installed is saved in the cache directory. While no region
// answers the mount is offline (Status.Tree.OfflineSince): the follower
// backs off (1s doubling to 30s) and the mount keeps serving the last tree
// it has: files already cached are served from the cache, others fail with
// EIO (quickly: the client probes a region that just failed with
// client.ProbeTimeout) until a region comes back.
//
// # Observability
//
// The root directory's extended attribute user.bootfs.status (fs.StatusXattr)
// returns Status as JSON: cache limit and use, hit ratio, files and blocks
// cached, bytes fetched and errors per region, the tree's generation and
// age. `bootfs status MOUNTPOINT` reads and prints it. With
// Config.MetricsListen set, the same counters (and the cache's, reader's
// and client's own collectors, with a fetch latency histogram per region)
// are served for Prometheus at /metrics, next to Go's profiles at
// /debug/pprof/.
package rack
