package cache

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := open(t, Options{Metrics: reg, Limit: 3000})
	a, b := key("f", 0), key("f", 1)
	mustPut(t, c, a, block(a, 2000))
	mustPut(t, c, b, block(b, 2000)) // evicts a
	mustGet(t, c, b, block(b, 2000))
	mustMiss(t, c, a)

	got := gather(t, reg)
	want := map[string]float64{
		"bootfs_rack_cache_hits_total":              1,
		"bootfs_rack_cache_misses_total":            1,
		"bootfs_rack_cache_evictions_total":         1,
		"bootfs_rack_cache_corrupt_total":           0,
		"bootfs_rack_cache_disk_errors_total":       0,
		"bootfs_rack_cache_used_bytes":              2000,
		"bootfs_rack_cache_limit_bytes":             3000,
		"bootfs_rack_cache_blocks":                  1,
		"bootfs_rack_cache_files":                   1,
		"bootfs_rack_cache_degraded":                0,
		"bootfs_rack_cache_passthrough_files_total": 0,
		// 2000-byte blocks have no 4 KiB-aligned head to write direct.
		`bootfs_rack_cache_writes_total{mode="buffered"}`: 2,
		`bootfs_rack_cache_writes_total{mode="direct"}`:   0,
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("metrics %v", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := gather(t, reg); len(got) != 0 {
		t.Fatalf("metrics left after Close: %v", got)
	}
	open(t, Options{Metrics: reg}) // registers again
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += fmt.Sprintf("{%s=%q}", l.GetName(), l.GetValue())
			}
			if m.GetCounter() != nil {
				out[name] = m.GetCounter().GetValue()
			} else {
				out[name] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}
