package db_test

import (
	"context"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/region/db"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openDB opens a fresh, migrated database on the test PostgreSQL server.
func openDB(t *testing.T) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if _, _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// registerRegion registers region-NAME at http://NAME:5240 and returns
// its id.
func registerRegion(t *testing.T, d *db.DB, name string) int64 {
	t.Helper()
	id, err := d.RegisterRegion(context.Background(), "region-"+name, "http://"+name+":5240")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// recordSet records a set of resource name with one file per content.
func recordSet(t *testing.T, d *db.DB, name, version string, contents ...string) (int64, []digest.Digest) {
	t.Helper()
	s := db.SetRecord{Name: name, Architecture: "amd64/ga-22.04", Version: version, Label: "stable"}
	var ds []digest.Digest
	for i, c := range contents {
		sha := digest.Of([]byte(c))
		ds = append(ds, sha)
		s.Files = append(s.Files, db.FileRecord{Filename: "file" + string(rune('a'+i)), Filetype: "boot-kernel", SHA256: sha, Size: int64(len(c))})
	}
	id, err := d.RecordSet(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return id, ds
}

// count runs a count query.
func count(t *testing.T, d *db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.Pool().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
