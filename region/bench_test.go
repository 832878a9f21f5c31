package region_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/regiontest"
)

// BenchmarkConvergence compares, in one run, three regions converging on a
// data set with one region importing it alone, both from an upstream capped
// at BOOTFS_BENCH_UPSTREAM_MBPS (default 100) MB/s. It reports
// three_vs_one (target <= 1.2) and upstream_vs_unique (target 1.00).
// BOOTFS_BENCH_SCALE (default 0.1, ~200 MB) sets the data size.
func BenchmarkConvergence(b *testing.B) {
	scale, mbps := 0.1, int64(100)
	if v, err := strconv.ParseFloat(os.Getenv("BOOTFS_BENCH_SCALE"), 64); err == nil {
		scale = v
	}
	if v, err := strconv.ParseInt(os.Getenv("BOOTFS_BENCH_UPSTREAM_MBPS"), 10, 64); err == nil {
		mbps = v
	}
	ctx := context.Background()
	for b.Loop() {
		m := regiontest.NewMirror(b, regiontest.MirrorOptions{Scale: scale})
		m.BytesPerSec.Store(mbps * 1e6)
		unique := upstreamItemBytesB(b, m.Root)

		one := regiontest.StartRegion(b, regiontest.Options{Name: "alone"})
		one.AddSource(b, m)
		start := time.Now()
		if err := one.ImportNow(ctx); err != nil {
			b.Fatal(err)
		}
		alone := time.Since(start)
		one.Stop()

		before := m.Served("") - m.Served("/streams/")
		rs := clusterB(b, 3)
		rs[0].AddSource(b, m)
		start = time.Now()
		importAllB(b, rs)
		regiontest.Eventually(b, 10*time.Minute, "convergence", func() bool {
			for _, r := range rs {
				w, err := r.DB().Wanted(ctx, r.ID())
				if err != nil || len(w) > 0 {
					return false
				}
			}
			return true
		})
		three := time.Since(start)
		upstream := m.Served("") - m.Served("/streams/") - before
		b.ReportMetric(alone.Seconds(), "alone_s")
		b.ReportMetric(three.Seconds(), "three_s")
		b.ReportMetric(three.Seconds()/alone.Seconds(), "three_vs_one")
		b.ReportMetric(float64(upstream)/float64(unique), "upstream_vs_unique")
		b.ReportMetric(float64(unique)/1e6, "unique_MB")
	}
}
