// Package store is the region's canonical file store: every boot file, once
// per SHA-256, as a flat file on local disk.
//
// # Layout
//
// Everything lives under one directory (Options.Dir, by default
// /var/lib/maas/image-storage):
//
//	Dir/<64 hex>              a complete, verified blob; the name is its sha256
//	Dir/.partial/<64 hex>     a write in progress or an interrupted one
//	Dir/.quarantine/<hex>.<t> a blob whose bytes did not match its name
//	Dir/.tmp/                 temporary files of LinkBootloader
//	Dir/.bootloaders.json     which bootloaders/ path points at which blob
//	Dir/bootloaders/<rel>     hard links (or copies) of bootloader blobs
//
// Only the entries above are ours. Anything else found in Dir (lost+found,
// a README, a directory an administrator made) is reported as foreign and
// never touched.
//
// # The one write path
//
// Every byte that enters the store (upstream import, copy from a peer
// region, migration out of the legacy database) goes through Begin/Commit,
// or Put, which wraps them. Bytes are written to Dir/.partial/<hex> and
// hashed in the same pass with a digest.Hasher, which also yields the
// per-block digests the caller stores beside the file. Commit checks the
// size and the sha256, fsyncs the file, renames it to its final name and
// fsyncs the directory. A mismatch deletes the partial file and returns
// ErrCorrupt. Nothing unverified ever has a final name, so a final name is a
// promise: the file is complete and its bytes hash to its name (until the
// disk rots, which the Verifier looks for).
//
// # Resuming
//
// A partial file survives Abort and process death. The next Begin for the
// same digest re-hashes the bytes already there (they are never trusted) and
// reports their count through Offset, so the caller continues with an HTTP
// Range request. Bytes that were garbage are caught by Commit's sha256
// check. Partial files older than PartialMaxAge are removed by Reconcile.
//
// # Concurrency
//
// A Disk is safe for concurrent use. Only one writer may hold a digest at a
// time: a second Begin for the same digest, in this process or in another
// process using the same directory (an flock on the partial file), fails at
// once with ErrBusy rather than waiting; the caller decides whether to
// retry later or to wait for the other writer's result. A Pending belongs
// to one goroutine.
package store
