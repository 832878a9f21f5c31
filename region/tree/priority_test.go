package tree

import (
	"testing"
	"time"

	"github.com/bootfs/bootfs/region/db"
)

// An older set recorded after the shown one was published (a source of
// higher priority brought it) is not obsolete: it waits to replace the
// shown one once retirement withdraws that; an older set recorded before
// is obsolete after the grace, as always.
func TestOlderSetRecordedLaterIsNotObsolete(t *testing.T) {
	s := snapshot(1)
	before, mine, shown := file("boot-kernel-before", 10), file("boot-kernel-mine", 10), file("boot-kernel-shown", 20)
	published := s.Now.Add(-time.Hour)
	s.Sets = []db.Set{
		{ID: 1, ResourceID: 1, Name: "ubuntu/jammy", Architecture: "amd64/ga-22.04", Version: "1", Label: "stable",
			Files: []db.File{before}, Created: published.Add(-time.Hour)},
		{ID: 2, ResourceID: 1, Name: "ubuntu/jammy", Architecture: "amd64/ga-22.04", Version: "2", Label: "stable",
			Files: []db.File{mine}, Created: s.Now.Add(-time.Minute)},
		{ID: 3, ResourceID: 1, Name: "ubuntu/jammy", Architecture: "amd64/ga-22.04", Version: "3", Label: "stable",
			Files: []db.File{shown}, Created: published.Add(-time.Minute), Published: &published},
	}
	hold(s, 1, before, mine, shown)
	r := Build(s, time.Minute, 10*time.Minute)
	if len(r.Obsolete) != 1 || r.Obsolete[0] != 1 {
		t.Fatalf("obsolete %v, want [1] (not 2, recorded after 3 was published)", r.Obsolete)
	}
	if paths(r)["ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"] != shown.SHA256 {
		t.Fatal("the published set is not the one shown")
	}
}
