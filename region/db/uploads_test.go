package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/region/db"
)

// TestUploadVersionsAndNewest: versions of an uploaded resource are named
// YYYYMMDD, YYYYMMDD.1, ... per day; NewestUploaded finds the newest one's
// file; other resources and days do not count.
func TestUploadVersionsAndNewest(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	day := time.Date(2026, 1, 2, 23, 0, 0, 0, time.UTC)
	record := func(version, content string) {
		t.Helper()
		_, err := d.RecordSet(ctx, db.SetRecord{Name: "custom/img", Architecture: "amd64/generic", RType: db.RTypeUploaded,
			Version: version, Label: db.LabelUploaded,
			Files: []db.FileRecord{{Filename: "root-tgz", Filetype: "root-tgz", SHA256: digest.Of([]byte(content)), Size: int64(len(content))}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	next := func() string {
		t.Helper()
		v, err := d.NextUploadVersion(ctx, "custom/img", "amd64/generic", day)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := next(); v != "20260102" {
		t.Fatalf("first version %q", v)
	}
	if v, sha, err := d.NewestUploaded(ctx, "custom/img", "amd64/generic", "root-tgz"); err != nil || v != "" || !sha.IsZero() {
		t.Fatalf("newest of nothing: %q %v %v", v, sha, err)
	}
	record("20260101", "old day")
	record("20260102", "a")
	if v := next(); v != "20260102.1" {
		t.Fatalf("second version of the day %q", v)
	}
	record("20260102.1", "b")
	record("20260102.9", "c")
	if v := next(); v != "20260102.10" {
		t.Fatalf("after .9: %q", v)
	}
	v, sha, err := d.NewestUploaded(ctx, "custom/img", "amd64/generic", "root-tgz")
	if err != nil || v != "20260102.9" || sha != digest.Of([]byte("c")) {
		t.Fatalf("newest: %q %v %v", v, sha, err)
	}
	if rt, ok, err := d.ResourceType(ctx, "custom/img", "amd64/generic"); err != nil || !ok || rt != db.RTypeUploaded {
		t.Fatalf("resource type %d %v %v", rt, ok, err)
	}
	ids, err := d.UploadedSetIDs(ctx)
	if err != nil || len(ids) != 4 {
		t.Fatalf("uploaded sets %v %v", ids, err)
	}
	recordSet(t, d, "ubuntu/jammy", "1", "k")
	if ids, _ := d.UploadedSetIDs(ctx); len(ids) != 4 {
		t.Fatalf("an imported set counts as uploaded: %v", ids)
	}
}
