package importer

import (
	"errors"
	"testing"

	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/simplestreams"
)

func latest(release, subarch, version string) simplestreams.Latest {
	return simplestreams.Latest{Version: version, Product: simplestreams.Product{
		ID: release + ":" + subarch, OS: "ubuntu", Release: release, Arch: "amd64", Subarch: subarch, Label: "stable"}}
}

// The higher priority wins whatever the versions; at equal priority the
// newer version, then the source added first; a source that failed or
// does not select a product takes no part.
func TestWinners(t *testing.T) {
	all := []db.Selection{{OS: "*", Release: "*"}}
	src := func(id int64, prio int, sels []db.Selection, l ...simplestreams.Latest) sourceLoad {
		return sourceLoad{src: db.Source{ID: id, URL: "http://m" + string(rune('0'+id)) + "/", Priority: prio, Selections: sels}, latest: l}
	}
	loads := []sourceLoad{
		src(1, 0, all, latest("jammy", "ga-22.04", "20250301"), latest("noble", "ga-24.04", "20250101"),
			latest("focal", "ga-20.04", "20250101")),
		src(2, 5, all, latest("jammy", "ga-22.04", "20250101"), latest("noble", "ga-24.04", "20250101")),
		src(3, 5, all, latest("noble", "ga-24.04", "20250201"), latest("focal", "ga-20.04", "20250301")),
		src(4, 9, []db.Selection{{OS: "ubuntu", Release: "bionic"}}, latest("focal", "ga-20.04", "20990101")),
		{src: db.Source{ID: 5, Priority: 99, Selections: all}, err: errBoom},
	}
	// A source that failed to load lists nothing (LoadAll returned no products).
	win := winners(loads)
	for key, want := range map[string]int{
		"ubuntu/jammy amd64/ga-22.04": 1, // priority 5 beats a newer version at 0
		"ubuntu/noble amd64/ga-24.04": 2, // equal priority 5: the newer version (source 3)
		"ubuntu/focal amd64/ga-20.04": 2, // source 4 does not select focal
	} {
		if got, ok := win[key]; !ok || got != want {
			t.Errorf("%s: source index %d (%v), want %d", key, got, ok, want)
		}
	}
	// Same version, same priority: the source added first.
	loads = []sourceLoad{src(1, 0, all, latest("jammy", "ga-22.04", "1")), src(2, 0, all, latest("jammy", "ga-22.04", "1"))}
	if got := winners(loads)["ubuntu/jammy amd64/ga-22.04"]; got != 0 {
		t.Errorf("tie: source index %d, want 0", got)
	}
}

var errBoom = errors.New("boom")
