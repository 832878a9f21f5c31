package store

import (
	"testing"
	"time"
)

func BenchmarkPhaseWrite(b *testing.B) {
	d, _ := newDisk(b)
	data, dg := blob(70, benchSize)
	b.SetBytes(benchSize)
	var fs time.Duration
	for b.Loop() {
		p, _ := d.Begin(dg, benchSize)
		for off := 0; off < benchSize; off += copyBufSize {
			p.Write(data[off : off+copyBufSize])
		}
		t0 := time.Now()
		p.f.Sync()
		fs += time.Since(t0)
		p.Discard()
	}
	b.ReportMetric(float64(fs.Milliseconds())/float64(b.N), "fsync-ms/op")
}
