package db_test

import (
	"context"
	"testing"
)

// TestDeleteSetsAtomic: DeleteSets removes sets and then the resources
// left without sets; when the second step fails, the first must not have
// happened (one transaction), or the tree would lose sets with the error
// reported and nothing to retry consistently.
func TestDeleteSetsAtomic(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	s1, _ := recordSet(t, d, "ubuntu/jammy", "1", "kernel 1")
	s2, _ := recordSet(t, d, "ubuntu/noble", "1", "kernel 2")
	// Make deleting a resource fail, as a lost connection or a lock
	// timeout could between the two statements.
	if _, err := d.Pool().Exec(ctx, `
		CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected failure'; END $$;
		CREATE TRIGGER refuse BEFORE DELETE ON boot_resource FOR EACH ROW EXECUTE FUNCTION refuse();`); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteSets(ctx, []int64{s1}); err == nil {
		t.Fatal("DeleteSets succeeded although deleting the resource failed")
	}
	if n := count(t, d, `SELECT count(*) FROM boot_resource_set WHERE id = ANY($1)`, []int64{s1, s2}); n != 2 {
		t.Fatalf("a failed DeleteSets left %d of 2 sets: it deleted part of its change", n)
	}
	if n := count(t, d, `SELECT count(*) FROM boot_resource_file`); n != 2 {
		t.Fatalf("a failed DeleteSets left %d of 2 files", n)
	}
	if _, err := d.Pool().Exec(ctx, `DROP TRIGGER refuse ON boot_resource`); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteSets(ctx, []int64{s1}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, d, `SELECT count(*) FROM boot_resource`); n != 1 {
		t.Fatalf("%d resources after deleting the only set of one of two, want 1", n)
	}
	if n := count(t, d, `SELECT count(*) FROM boot_resource_set`); n != 1 {
		t.Fatalf("%d sets left, want 1", n)
	}
}
