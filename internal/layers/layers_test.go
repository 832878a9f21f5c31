package layers

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/bootfs/bootfs/"

// testHelpers are the packages only tests may import.
var testHelpers = []string{
	"internal/damage", "internal/pgtest", "internal/promcheck", "internal/regiontest", "internal/testpoll",
	"internal/testskip", "internal/tmpfs", "internal/wire/wiretest",
	"rack/cache/cachetest", "rack/client/regiontest",
}

// crossRoom lists the imports allowed between the rooms of the middle
// layer (region, rack, fs, migrate): rack mounts fs; migrate writes through
// the region's database and store, never the region daemon.
var crossRoom = map[[2]string]bool{
	{"rack", "fs"}:              true,
	{"migrate", "region/db"}:    true,
	{"migrate", "region/store"}: true,
}

// layer is 3 for the mains, 2 for region, rack, fs and migrate, 1 for the
// shared internal leaves; 0 for test helpers and tests, which sit outside.
func layer(p string) int {
	switch {
	case slices.Contains(testHelpers, p), strings.HasPrefix(p, "test/"), strings.HasPrefix(p, "scripts/"):
		return 0
	case strings.HasPrefix(p, "cmd/"):
		return 3
	case strings.HasPrefix(p, "internal/"):
		return 1
	}
	return 2
}

// room is the top directory of a package: region, rack, fs, migrate.
func room(p string) string {
	r, _, _ := strings.Cut(p, "/")
	return r
}

// TestImportsPointOneWay checks the dependency rule for the non-test
// imports of every package of the module: cmd → region/rack/fs/migrate →
// internal leaves, rooms apart but for crossRoom, and test helpers
// imported by tests and other test helpers only (never by a main).
func TestImportsPointOneWay(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		from, ok := strings.CutPrefix(f[0], mod)
		if !ok {
			continue
		}
		seen++
		for _, imp := range f[1:] {
			to, ok := strings.CutPrefix(imp, mod)
			if !ok {
				continue
			}
			if why := refuse(from, to); why != "" {
				t.Errorf("%s imports %s: %s", from, to, why)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("go list named only %d packages of the module", seen)
	}
}

// TestEveryPackageDocumented: the package table of docs/architecture.md
// names every package of the module.
func TestEveryPackageDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(l, "| `") {
			rows = append(rows, l)
		}
	}
	out, err := exec.Command("go", "list", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		p = strings.TrimPrefix(p, mod)
		if !slices.ContainsFunc(rows, func(r string) bool { return strings.Contains(r, "`"+p+"`") }) {
			t.Errorf("docs/architecture.md: no row of the package table names %s", p)
		}
	}
}

// refuse says why from may not import to, or "" if it may.
func refuse(from, to string) string {
	lf, lt := layer(from), layer(to)
	switch {
	case lt == 0 && lf != 0:
		return "test helpers are for tests only"
	case lt == 3:
		return "nothing imports a main"
	case lf == 0:
		return "" // test helpers may use anything they help test
	case lt > lf:
		return "imports point down: cmd → region/rack/fs/migrate → internal"
	case lf == 2 && lt == 2 && room(from) != room(to) && !crossRoom[[2]string{room(from), to}] && !crossRoom[[2]string{room(from), room(to)}]:
		return "the rooms region, rack, fs and migrate stay apart (see docs/architecture.md)"
	}
	return ""
}

// TestRefuse: the rule refuses what the architecture forbids.
func TestRefuse(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"cmd/bootfs", "rack", true},
		{"rack", "fs", true},
		{"rack/reader", "rack/cache", true},
		{"migrate", "region/store", true},
		{"internal/regiontest", "region", true},
		{"region", "internal/wire", true},
		{"migrate", "region", false},
		{"region", "rack/client", false},
		{"rack", "region/db", false},
		{"fs", "rack/cache", false},
		{"internal/wire", "region/db", false},
		{"region", "internal/pgtest", false},
		{"cmd/bootfs", "internal/testpoll", false},
		{"region", "cmd/bootfs-region", false},
	} {
		if got := refuse(c.from, c.to) == ""; got != c.ok {
			t.Errorf("%s → %s allowed = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}
