package rack

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/promcheck"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

// TestRackMetricsPassPromtool mounts a real rack on a region and a region
// that is down, reads through it, and runs `promtool check metrics` on its
// /metrics: Prometheus' conventions hold, every rack series starts with
// bootfs_rack_, and region errors are counted per region and kind.
func TestRackMetricsPassPromtool(t *testing.T) {
	r := regiontest.New(t, testSecret)
	kernel := randBytes(3, 2*digest.BlockSize+10)
	r.SetTree(files{"boot-kernel": kernel, "lpxelinux.0": randBytes(4, 900)}.tree(r, "g1"))
	dead := deadURL(t)
	cfg := testConfig(t, dead, r.URL())
	cfg.MetricsListen = "127.0.0.1:0"
	m := start(t, cfg)
	mustRead(t, filepath.Join(cfg.Mountpoint, "boot-kernel"), kernel)

	scrape := promcheck.Scrape(t, "http://"+m.MetricsAddr()+"/metrics", "")
	promcheck.Check(t, scrape)
	for _, mm := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllStringSubmatch(string(scrape), -1) {
		if n := mm[1]; !strings.HasPrefix(n, "bootfs_rack_") && !strings.HasPrefix(n, "go_") && !strings.HasPrefix(n, "process_") {
			t.Errorf("rack exports %s: every rack series starts with bootfs_rack_", n)
		}
	}
	want := `bootfs_rack_region_errors_total{kind="unreachable",region="` + dead + `"}`
	if !strings.Contains(string(scrape), want) {
		t.Errorf("metrics lack %s; region errors:\n%s", want, regexp.MustCompile(`(?m)^bootfs_rack_region_errors_total.*$`).FindAllString(string(scrape), -1))
	}
}
