package migrate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bootfs/bootfs/region/importer"
)

// After a clean migration (every file valid, so the region wants nothing)
// the region's next import, with no upstream source configured, extracts
// the migrated bootloader archives.
func TestImportAfterMigrationExtractsBootloaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLegacy(t, false)
	members := map[string][]byte{"bootx64.efi": randomBytes(20, 40_000), "grubx64.efi": randomBytes(21, 60_000)}
	archive := l.content(tarXZ(t, members, "bootx64.efi", "grubx64.efi"))
	set := l.set(l.resource("grub-efi-signed/uefi", "amd64/generic", "", "uefi"), "20250601")
	l.file(set, archive, "grub2-signed.tar.xz", "archive.tar.xz")
	r := newRegion(t, "", "region1", "")
	rep, err := Run(ctx, r.options(l.url))
	if err != nil || rep.Migrated != 1 || len(rep.Problems) != 0 {
		t.Fatalf("Run = %+v, %v", rep, err)
	}
	// The region's import (what serve runs after a migration).
	im := importer.New(importer.Config{DB: r.db, Store: r.store, RegionID: r.id, RegionName: r.name})
	if err := im.Run(ctx); err != nil {
		t.Fatalf("import after migration: %v", err)
	}
	for name, data := range members {
		got, err := os.ReadFile(filepath.Join(r.store.Dir(), "bootloaders", "uefi", "amd64", name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("bootloaders/uefi/amd64/%s after import: %d bytes, %v; want the archive member", name, len(got), err)
		}
	}
}
