package tree

import (
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/region/db"
)

// file makes a file whose content is named by content; its filename is the
// part of content before a "-" (so "boot-kernel-old" is a boot-kernel).
func file(content string, size int64) db.File {
	d := digest.Of([]byte(content))
	name := content
	if i := strings.LastIndex(content, "-"); i > 0 && !strings.HasSuffix(content, ".efi") {
		name = content[:i]
	}
	return db.File{Filename: name, Filetype: "boot-kernel", SHA256: d, Size: size, FilenameOnDisk: d.Short(7)}
}

func snapshot(regions int) *db.Snapshot {
	s := &db.Snapshot{Now: time.Unix(1000, 0), Held: map[int64]map[digest.Digest]int64{}}
	for i := 1; i <= regions; i++ {
		s.Regions = append(s.Regions, db.Region{ID: int64(i), Name: string(rune('a' + i - 1)), URL: "http://x", LastHeartbeat: s.Now})
		s.Held[int64(i)] = map[digest.Digest]int64{}
	}
	return s
}

func hold(s *db.Snapshot, region int64, fs ...db.File) {
	for _, f := range fs {
		s.Held[region][f.SHA256] = f.Size
	}
}

func paths(r Result) map[string]digest.Digest {
	m := map[string]digest.Digest{}
	for _, e := range r.Tree.Files {
		m[e.Path] = e.SHA256
	}
	return m
}

func TestNewSetShownOnlyWhenEveryRegionHasIt(t *testing.T) {
	s := snapshot(2)
	oldK, newK := file("boot-kernel-old", 10), file("boot-kernel-new", 20)
	s.Sets = []db.Set{
		{ID: 1, ResourceID: 1, Name: "ubuntu/jammy", Architecture: "amd64/ga-22.04", Version: "20250101", Label: "stable", Files: []db.File{oldK}},
		{ID: 2, ResourceID: 1, Name: "ubuntu/jammy", Architecture: "amd64/ga-22.04", Version: "20250201", Label: "stable", Files: []db.File{newK}},
	}
	hold(s, 1, oldK, newK)
	hold(s, 2, oldK)
	s.Held[2][newK.SHA256] = 5 // partial

	r := Build(s, time.Minute, 0)
	p := paths(r)
	const kpath = "ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"
	if p[kpath] != oldK.SHA256 {
		t.Fatalf("tree shows %v at %s, want the old kernel", p[kpath], kpath)
	}
	if _, ok := p["images/"+newK.FilenameOnDisk]; ok {
		t.Fatal("incomplete set's file is in the tree")
	}
	var newStatus = r.Sets[0]
	if newStatus.Version != "20250201" || newStatus.Available || len(newStatus.HeldBackBy) != 1 || newStatus.HeldBackBy[0] != "b" {
		t.Fatalf("new set status = %+v, want held back by b", newStatus)
	}
	if len(r.Obsolete) != 0 {
		t.Fatalf("obsolete = %v before the new set is complete", r.Obsolete)
	}
	gen := r.Tree.Generation

	hold(s, 2, newK)
	r = Build(s, time.Minute, 0)
	if paths(r)[kpath] != newK.SHA256 {
		t.Fatal("complete new set not shown")
	}
	if len(r.Obsolete) != 1 || r.Obsolete[0] != 1 {
		t.Fatalf("obsolete = %v, want [1]", r.Obsolete)
	}
	if r.Tree.Generation == gen {
		t.Fatal("generation did not change with the tree")
	}
	if again := Build(s, time.Minute, 0); again.Tree.Generation != r.Tree.Generation {
		t.Fatal("generation not stable")
	}
}

func TestNoSetCompleteShowsNothing(t *testing.T) {
	s := snapshot(1)
	k := file("k", 10)
	s.Sets = []db.Set{{ID: 1, ResourceID: 1, Name: "ubuntu/noble", Architecture: "amd64/ga-24.04", Version: "1", Label: "stable", Files: []db.File{k}}}
	if r := Build(s, time.Minute, 0); len(r.Tree.Files) != 0 {
		t.Fatalf("tree = %v, want empty", r.Tree.Files)
	}
}

func TestBootloaderPaths(t *testing.T) {
	s := snapshot(1)
	arch := file("archive", 100)
	arch.Filetype = "archive.tar.xz"
	efi := file("bootx64.efi", 30)
	efi.Filetype = FiletypeBootloader
	s.Sets = []db.Set{{ID: 1, ResourceID: 1, Name: "grub-efi-signed/uefi", Architecture: "amd64/generic", BootloaderType: "uefi", Version: "1", Label: "stable", Files: []db.File{arch, efi}}}
	hold(s, 1, arch, efi)
	p := paths(Build(s, time.Minute, 0))
	for _, want := range []string{"bootx64.efi", "bootloaders/uefi/amd64/bootx64.efi", "images/" + efi.FilenameOnDisk, "images/" + arch.FilenameOnDisk} {
		if _, ok := p[want]; !ok {
			t.Errorf("missing %s in %v", want, p)
		}
	}
	if len(p) != 4 {
		t.Errorf("tree has %d paths, want 4: %v", len(p), p)
	}
}

func TestCompareVersions(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"20250101", "20250201", -1},
		{"20250201", "20250201.1", -1},
		{"20250201.10", "20250201.9", 1},
		{"9", "10", -1},
		{"1.0", "1.0", 0},
		{"b", "a", 1},
	}
	for _, c := range cases {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestPublishedSetStaysWhenARegionJoinsOrLosesAFile(t *testing.T) {
	s := snapshot(2)
	k := file("boot-kernel-v1", 10)
	s.Sets = []db.Set{{ID: 1, ResourceID: 1, Name: "ubuntu/jammy", Architecture: "amd64/ga-22.04", Version: "1", Label: "stable", Files: []db.File{k}}}
	hold(s, 1, k)
	hold(s, 2, k)
	r := Build(s, time.Minute, 0)
	if len(r.Publish) != 1 || r.Publish[0] != 1 || len(r.Tree.Files) == 0 {
		t.Fatalf("complete set not published: publish %v, %d files", r.Publish, len(r.Tree.Files))
	}
	published := s.Now
	s.Sets[0].Published = &published

	// A third, empty region joins; region 2 loses the kernel.
	s.Regions = append(s.Regions, db.Region{ID: 3, Name: "c", URL: "http://c", LastHeartbeat: s.Now})
	delete(s.Held[2], k.SHA256)
	r = Build(s, time.Minute, 0)
	e, ok := paths(r)["ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"]
	if !ok || e != k.SHA256 {
		t.Fatal("a published set left the tree when a region joined or lost a file")
	}
	for _, f := range r.Tree.Files {
		if len(f.Regions) != 1 || f.Regions[0] != "a" {
			t.Fatalf("%s holders = %v, want only a", f.Path, f.Regions)
		}
	}
	if len(r.Publish) != 0 {
		t.Fatalf("published again: %v", r.Publish)
	}
}

func TestObsoleteOnlyAfterGrace(t *testing.T) {
	s := snapshot(1)
	oldK, newK := file("boot-kernel-old", 10), file("boot-kernel-new", 20)
	old := s.Now.Add(-time.Hour)
	s.Sets = []db.Set{
		{ID: 1, ResourceID: 1, Name: "ubuntu/jammy", Architecture: "amd64/ga-22.04", Version: "1", Label: "stable", Files: []db.File{oldK}, Published: &old},
		{ID: 2, ResourceID: 1, Name: "ubuntu/jammy", Architecture: "amd64/ga-22.04", Version: "2", Label: "stable", Files: []db.File{newK}},
	}
	hold(s, 1, oldK, newK)
	if r := Build(s, time.Minute, 10*time.Minute); len(r.Obsolete) != 0 || len(r.Publish) != 1 {
		t.Fatalf("obsolete %v publish %v at the moment the new set is published", r.Obsolete, r.Publish)
	}
	justNow := s.Now.Add(-time.Minute)
	s.Sets[1].Published = &justNow
	if r := Build(s, time.Minute, 10*time.Minute); len(r.Obsolete) != 0 {
		t.Fatalf("obsolete %v one minute after publishing, grace 10m", r.Obsolete)
	}
	later := s.Now.Add(-11 * time.Minute)
	s.Sets[1].Published = &later
	if r := Build(s, time.Minute, 10*time.Minute); len(r.Obsolete) != 1 || r.Obsolete[0] != 1 {
		t.Fatalf("obsolete %v after the grace period, want [1]", r.Obsolete)
	}
}
