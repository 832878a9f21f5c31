package migrate

// FuzzInventoryRows feeds the inventory legacy rows of any shape (the
// sha256 and size columns MAAS 3.4 and 3.5 keep, as text and numbers
// anything may have written) and checks that bad input loses nothing: each
// row is either recorded, under a valid sha256 and a size the region's
// schema takes, or reported as a problem. Seeds are in
// testdata/fuzz/FuzzInventoryRows.

import (
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

func FuzzInventoryRows(f *testing.F) {
	sha := digest.Of([]byte("kernel")).String()
	f.Add(int64(1), sha, int64(6), int64(6), int64(6), "boot-kernel", int64(1), sha, int64(6), int64(6), int64(3), "boot-kernel")
	f.Add(int64(1), sha, int64(6), int64(6), int64(2), "a", int64(2), sha, int64(7), int64(7), int64(7), "b")
	f.Add(int64(1), " "+strings.ToUpper(sha)+"\n", int64(6), int64(6), int64(6), "a", int64(1), "zz", int64(6), int64(6), int64(6), "b")
	f.Add(int64(1), sha, int64(-1), int64(-1), int64(0), "a", int64(1), "", int64(0), int64(0), int64(0), "")
	f.Fuzz(func(t *testing.T, set1 int64, sha1 string, size1, total1, have1 int64, file1 string,
		set2 int64, sha2 string, size2, total2, have2 int64, file2 string) {
		rows := []row{
			{setID: set1, name: "ubuntu/jammy", arch: "amd64/ga-22.04", version: "20240101", filename: file1,
				lf: largefile{id: 1, oid: 11, total: total1, have: have1}, claimedSHA: sha1, claimedSize: size1},
			{setID: set2, name: "ubuntu/noble", arch: "amd64/ga-24.04", version: "20240102", filename: file2,
				lf: largefile{id: 2, oid: 12, total: total2, have: have2}, claimedSHA: sha2, claimedSize: size2},
		}
		inv := &inventory{}
		bySHA := map[digest.Digest]*content{}
		setIdx := map[int64]int{}
		for i := range rows {
			inv.add(&rows[i], bySHA, setIdx)
		}
		if got := inv.files() + len(inv.bad); got != len(rows) {
			t.Fatalf("%d rows became %d files and %d problems", len(rows), inv.files(), len(inv.bad))
		}
		names := 0
		for _, c := range inv.contents {
			names += len(c.names)
			if bySHA[c.sha] != c {
				t.Fatalf("content %s not indexed", c.sha)
			}
			if c.size < 0 {
				t.Fatalf("content %s recorded with size %d, which the region's schema refuses", c.sha, c.size)
			}
			if c.src == nil {
				t.Fatalf("content %s has no largefile to read", c.sha)
			}
		}
		if names != inv.files() {
			t.Fatalf("%d files recorded, %d names on contents", inv.files(), names)
		}
		for _, s := range inv.sets {
			for _, fr := range s.Files {
				c := bySHA[fr.SHA256]
				if c == nil || c.size != fr.Size {
					t.Fatalf("file %q recorded with sha256 %s size %d, content %+v", fr.Filename, fr.SHA256, fr.Size, c)
				}
			}
		}
		for _, p := range inv.bad {
			if p.Reason == "" || p.Kind == "" || len(p.File.Names) == 0 {
				t.Fatalf("problem without kind, reason or name: %+v", p)
			}
		}
	})
}
