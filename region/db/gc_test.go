package db_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
)

// TestOrphanBlobs: a blob goes when the last file that references it goes,
// with its sync rows and claims, and not before.
func TestOrphanBlobs(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	r := registerRegion(t, d, "a")
	s1, ds1 := recordSet(t, d, "ubuntu/jammy", "1", "shared kernel", "initrd 1")
	s2, ds2 := recordSet(t, d, "ubuntu/jammy", "2", "shared kernel", "initrd 2")
	shared, only1 := ds1[0], ds1[1]
	if ds2[0] != shared {
		t.Fatal("test setup: the kernels differ")
	}
	for _, sha := range append(ds1, ds2[1]) {
		if err := d.MarkHeld(ctx, r, sha, 1); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := d.Claim(ctx, r, only1, "http://up", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if gone, err := d.DeleteOrphanBlobs(ctx); err != nil || len(gone) != 0 {
		t.Fatalf("nothing unreferenced yet: deleted %v, %v", gone, err)
	}
	if err := d.DeleteSets(ctx, []int64{s1}); err != nil {
		t.Fatal(err)
	}
	gone, err := d.DeleteOrphanBlobs(ctx)
	if err != nil || !slices.Equal(gone, []digest.Digest{only1}) {
		t.Fatalf("after deleting set 1: deleted %v, %v; want only %s", gone, err, only1)
	}
	if n := count(t, d, `SELECT count(*) FROM blob_sync WHERE sha256 = $1`, only1.String()); n != 0 {
		t.Errorf("%d sync rows of a deleted blob left", n)
	}
	if n := count(t, d, `SELECT count(*) FROM download_claim WHERE sha256 = $1`, only1.String()); n != 0 {
		t.Errorf("%d claims on a deleted blob left", n)
	}
	if n := count(t, d, `SELECT count(*) FROM blob WHERE sha256 = $1`, shared.String()); n != 1 {
		t.Errorf("the blob set 2 still uses was deleted")
	}
	if err := d.DeleteSets(ctx, []int64{s2}); err != nil {
		t.Fatal(err)
	}
	gone, err = d.DeleteOrphanBlobs(ctx)
	slices.SortFunc(gone, func(a, b digest.Digest) int { return slices.Compare(a[:], b[:]) })
	want := []digest.Digest{shared, ds2[1]}
	slices.SortFunc(want, func(a, b digest.Digest) int { return slices.Compare(a[:], b[:]) })
	if err != nil || !slices.Equal(gone, want) {
		t.Fatalf("after deleting set 2: deleted %v, %v; want %v", gone, err, want)
	}
	if n := count(t, d, `SELECT count(*) FROM blob`); n != 0 {
		t.Errorf("%d blobs left", n)
	}
}

// TestOrphanBlobRacesReimport is the invariant docs/architecture.md
// promises: a blob row is deleted only when no file references it. A
// re-import that finds the blob (SELECT ... FOR KEY SHARE, as RecordSet
// does) and then adds a file for it, while the collector deletes orphans,
// must leave the blob in place and the collector must not report it
// deleted (the region would remove its copy of a blob still in use).
func TestOrphanBlobRacesReimport(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	s1, ds := recordSet(t, d, "ubuntu/jammy", "1", "kernel")
	sha := ds[0]
	if err := d.DeleteSets(ctx, []int64{s1}); err != nil {
		t.Fatal(err)
	}
	// The blob is an orphan now. A re-import of the same content begins.
	var size int64
	tx, err := d.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := tx.QueryRow(ctx, `SELECT size FROM blob WHERE sha256 = $1 FOR KEY SHARE`, sha.String()).Scan(&size); err != nil {
		t.Fatal(err)
	}
	var setID int64
	err = tx.QueryRow(ctx, `
		WITH r AS (INSERT INTO boot_resource (name, architecture) VALUES ('ubuntu/jammy', 'amd64/ga-22.04') RETURNING id)
		INSERT INTO boot_resource_set (resource_id, version, label) SELECT id, '2', 'stable' FROM r RETURNING id`).Scan(&setID)
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		gone []digest.Digest
		err  error
	}
	done := make(chan result, 1)
	go func() {
		gone, err := d.DeleteOrphanBlobs(ctx)
		done <- result{gone, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("the collector did not wait for the re-import's lock: deleted %v, %v", r.gone, r.err)
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := tx.Exec(ctx, `INSERT INTO boot_resource_file (set_id, filename, filetype, sha256, size) VALUES ($1, 'boot-kernel', 'boot-kernel', $2, $3)`,
		setID, sha.String(), size); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	t.Logf("the collector, after waiting for the re-import: deleted %v, err %v", r.gone, r.err)
	if slices.Contains(r.gone, sha) {
		t.Fatalf("the collector reports the re-imported blob deleted (err %v)", r.err)
	}
	if n := count(t, d, `SELECT count(*) FROM blob WHERE sha256 = $1`, sha.String()); n != 1 {
		t.Fatalf("the re-imported blob's row is gone (collector: %v)", r.err)
	}
	// Once the collector tries again, nothing in use goes.
	if gone, err := d.DeleteOrphanBlobs(ctx); err != nil || len(gone) != 0 {
		t.Fatalf("second collection: deleted %v, %v", gone, err)
	}
}
