package migrate

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The dependency between the region daemon and the migration points one
// way: cmd/bootfs-region composes them (region.LegacyMigrator), migrate
// uses only region/db and region/store, and package region never imports
// migrate. Tests may cross (region's tests compose a migrator, migrate's
// tests run region/importer); this checks the non-test imports.
func TestDependencyPointsOneWay(t *testing.T) {
	t.Parallel()
	deps := func(pkg string) []string {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	const mod = "github.com/bootfs/bootfs/"
	if slices.Contains(deps(mod+"region"), mod+"migrate") {
		t.Errorf("package region imports migrate (directly or not); compose them in cmd/bootfs-region")
	}
	if got := deps(mod + "migrate"); slices.Contains(got, mod+"region") || slices.Contains(got, mod+"cmd/bootfs-region") {
		t.Errorf("package migrate imports the region daemon; it may use region/db and region/store only")
	}
}
