package tree

import (
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/pathrule"
	"github.com/bootfs/bootfs/region/db"
)

// TestBadRowsLeftOut: rows written before the importer checked names (a
// release "../../../x", a label "..", a file "../../x", a bootloader member
// with a newline) never reach the tree; the good set next to them does.
func TestBadRowsLeftOut(t *testing.T) {
	s := snapshot(1)
	good := file("boot-kernel-good", 10)
	k1, k2, k3 := file("boot-kernel-1", 11), file("boot-kernel-2", 12), file("boot-kernel-3", 13)
	k3.Filename = "../../x"
	efi := file("grubx64.efi", 14)
	efi.Filename, efi.Filetype = "grub\nx64.efi", FiletypeBootloader
	s.Sets = []db.Set{
		{ID: 1, ResourceID: 1, Name: "ubuntu/noble", Architecture: "amd64/ga-24.04", Version: "20250101", Label: "stable", Files: []db.File{good}},
		{ID: 2, ResourceID: 2, Name: "ubuntu/../../../x", Architecture: "amd64/ga-22.04", Version: "20250101", Label: "stable", Files: []db.File{k1}},
		{ID: 3, ResourceID: 3, Name: "ubuntu/jammy", Architecture: "amd64/ga-22.04", Version: "20250101", Label: "..", Files: []db.File{k2}},
		{ID: 4, ResourceID: 4, Name: "ubuntu/focal", Architecture: "amd64/ga-20.04", Version: "20250101", Label: "stable", Files: []db.File{k3}},
		{ID: 5, ResourceID: 5, Name: "grub-efi-signed/uefi", Architecture: "amd64/generic", BootloaderType: "uefi", Version: "20250101", Label: "stable", Files: []db.File{efi}},
	}
	hold(s, 1, good, k1, k2, k3, efi)
	r := Build(s, time.Minute, 0)
	for _, e := range r.Tree.Files {
		if _, err := pathrule.Path(e.Path); err != nil {
			t.Errorf("tree offers %q: %v", e.Path, err)
		}
	}
	if p := paths(r); p["ubuntu/amd64/ga-24.04/noble/stable/boot-kernel"] != good.SHA256 {
		t.Fatalf("good set missing from the tree: %v", p)
	}
	if len(r.Tree.Files) != 2 { // the good kernel and its images/ path
		t.Errorf("tree has %d files, want 2: %v", len(r.Tree.Files), paths(r))
	}
	if len(r.Refused) != 4 {
		t.Fatalf("refused %q, want the 4 bad sets", r.Refused)
	}
	all := strings.Join(r.Refused, "\n")
	for _, want := range []string{"ubuntu/../../../x", `".."`, `"../../x"`, "grub-efi-signed/uefi"} {
		if !strings.Contains(all, want) {
			t.Errorf("refusals %q do not name %s", all, want)
		}
	}
	for _, id := range r.Publish {
		if id != 1 {
			t.Errorf("bad set %d published", id)
		}
	}
	if len(r.Sets) != 1 {
		t.Errorf("%d sets in status, want 1", len(r.Sets))
	}
}
