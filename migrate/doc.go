// Package migrate moves boot images out of a legacy MAAS database onto a
// region's disk, once.
//
// # What is migrated
//
// MAAS up to 3.4 kept every boot file as a PostgreSQL large object:
// maasserver_largefile holds the sha256, the expected size (total_size),
// the bytes written so far (size) and the large object's oid (content);
// maasserver_bootresourcefile rows point at a largefile, several of them at
// the same one when files share content. MAAS 3.5 copied sha256 and size
// onto maasserver_bootresourcefile and made largefile_id nullable; both
// shapes are read here (see shape.go).
//
// Run reads every resource, set and file backed by a largefile and records
// them in the region's schema (db.RecordSet), then streams every distinct
// large object into the store through its one verifying write path
// (store.Begin, Pending.Write, Pending.Commit), records the block digests
// and marks the blob held by this region, so the tree counts it and the
// other regions copy it by peer sync.
//
// # Order of a run, and why it is safe
//
//  1. A session advisory lock on the legacy database (pg_advisory_lock):
//     exactly one region migrates; a region starting meanwhile waits, then
//     reads the legacy tables again and finds nothing left to copy.
//  2. The inventory is read in one read-only transaction.
//  3. Space first: the bytes needed are the sizes of the distinct sha256s
//     to export that are not already on disk. If the store's free space is
//     short, nothing is written (not even the set records), a persistent
//     banner of kind BannerKind names the directory and both figures, and
//     Run returns ErrNoSpace. A restart tries again.
//  4. Sets are recorded before any byte is written, so a region's
//     reconcile never mistakes a migrated file for an unknown one.
//  5. Each object is streamed in chunks of Options.ChunkSize (bounded
//     memory whatever the object size: a few chunks in flight) inside a
//     read-only transaction. A file already on disk (store.Stat gives its
//     size; a final name is verified by construction) is skipped. A
//     partial file left by a killed run is resumed: the store re-hashes it
//     and the read continues at its offset with lo_lseek64. Bytes that do
//     not match the sha256 are refused by Commit and never get the final
//     name; the blob is reported corrupt and its sets stay incomplete
//     until upstream or a peer provides it. A largefile whose size is
//     below its total_size (an interrupted MAAS download) is not read at
//     all; it is reported and left to be fetched from upstream.
//  6. Only when every object is settled (on disk and verified, or found
//     corrupt or incomplete) is the irreversible step considered, and only
//     if Options.Confirm says yes (the CLI asks at a terminal or takes
//     --yes; see "Who confirms" below). One transaction on the legacy
//     database then sets bootresourcefile.largefile_id to NULL (dropping
//     its NOT NULL constraint first on a 3.4 schema, as MAAS 3.5's own
//     migration does), deletes the largefile rows and lo_unlinks their
//     objects, for exactly the largefiles whose content this run verified
//     on disk (exported and committed, or found under its final name and
//     recorded as held). Any other failure (a read error, a full disk, a
//     kill) leaves the legacy tables untouched, and a re-run finishes the
//     job.
//
// # What is never destroyed
//
// A largefile whose content is not verified on disk is kept, with its
// large object and the resource files pointing at it: a corrupt one (bytes
// that do not match the sha256, or a missing object), an incomplete one
// (an interrupted MAAS download), one whose row cannot be recorded, and an
// orphan (no resource file uses it, so it has no name to be recorded
// under). Report.Problems and Plan.Orphans list them, Report.Kept counts
// them. For an uploaded (custom) image there is no upstream to fetch it
// from again, so only the operator may drop them: Options.DiscardUnverified
// (`bootfs-region migrate --discard-unverified --yes`) deletes them in the
// same step. Until then Pending stays true, and every re-run (each start
// of `serve --legacy-database`) tries them again and reports them again.
//
// # Who confirms
//
// `bootfs-region migrate` asks at a terminal, after the copy, showing the
// Removal; without a terminal it needs --yes and refuses, before touching
// anything, when not given it. `serve --legacy-database` is a daemon with
// nobody to ask: it copies (which destroys nothing) and takes the
// irreversible step only when started with --legacy-database-yes; without
// it the objects stay until an operator runs `bootfs-region migrate --yes`,
// which finds every file on disk and only deletes. The daemon never
// discards unverified objects.
//
// MAAS itself must not write boot resources meanwhile (its regions stopped,
// or already upgraded): a file MAAS is still downloading is reported
// incomplete, and --discard-unverified would drop it.
//
// # Bootloader archives
//
// Bootloader resources are migrated as their archive.tar.xz files, like
// any other file. Extracting their members (bootloaders/<type>/<arch>/...)
// is the importer's job: every import run ends by extracting the archives
// the region holds, whether or not any upstream source is configured, so
// the region's next import after the migration (`bootfs-region import`, the
// periodic import, or one the caller kicks right after Run) extracts them.
package migrate
