package rack

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// counters are the Reader's statistics.
type counters struct {
	hits, misses, fetches, bytes, readahead, verifyFailures, putErrors, inFlight atomic.Int64
}

// ReaderStats are counters of a Reader since it was made.
type ReaderStats struct {
	// Hits are blocks of reads served from memory or the disk cache.
	Hits int64
	// Misses are blocks of reads that waited for a region.
	Misses int64
	// Fetches are blocks fetched (and verified) from regions, readahead
	// included; BytesFetched their bytes.
	Fetches, BytesFetched int64
	// ReadaheadFetches are the Fetches started by readahead.
	ReadaheadFetches int64
	// VerifyFailures are blocks that failed their sha256: region responses
	// rejected by the client plus (with VerifyCacheHits) corrupt cache hits.
	VerifyFailures int64
	// PutErrors are blocks the cache failed to store (served anyway).
	PutErrors int64
	// InFlight is the number of fetches from regions in progress.
	InFlight int64
}

// Stats returns the Reader's counters.
func (r *Reader) Stats() ReaderStats {
	s := ReaderStats{
		Hits:             r.st.hits.Load(),
		Misses:           r.st.misses.Load(),
		Fetches:          r.st.fetches.Load(),
		BytesFetched:     r.st.bytes.Load(),
		ReadaheadFetches: r.st.readahead.Load(),
		VerifyFailures:   r.st.verifyFailures.Load(),
		PutErrors:        r.st.putErrors.Load(),
		InFlight:         r.st.inFlight.Load(),
	}
	for _, rs := range r.cl.Stats() {
		s.VerifyFailures += rs.VerifyFailures
	}
	return s
}

// collector exports a Reader's counters to Prometheus.
type collector struct{ r *Reader }

var (
	descHits      = prometheus.NewDesc("bootfs_rack_reader_hits_total", "Blocks of reads served from memory or the disk cache.", nil, nil)
	descMisses    = prometheus.NewDesc("bootfs_rack_reader_misses_total", "Blocks of reads that waited for a region.", nil, nil)
	descFetches   = prometheus.NewDesc("bootfs_rack_reader_fetches_total", "Blocks fetched and verified from regions, readahead included.", nil, nil)
	descBytes     = prometheus.NewDesc("bootfs_rack_reader_fetched_bytes_total", "Bytes of blocks fetched from regions.", nil, nil)
	descReadahead = prometheus.NewDesc("bootfs_rack_reader_readahead_fetches_total", "Blocks fetched by readahead.", nil, nil)
	descCorrupt   = prometheus.NewDesc("bootfs_rack_reader_cache_verify_failures_total", "Blocks from the disk cache that failed verification.", nil, nil)
	descPutErrors = prometheus.NewDesc("bootfs_rack_reader_cache_put_errors_total", "Verified blocks the disk cache failed to store.", nil, nil)
	descInFlight  = prometheus.NewDesc("bootfs_rack_reader_fetches_in_flight", "Block fetches from regions in progress.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHits, descMisses, descFetches, descBytes, descReadahead, descCorrupt, descPutErrors, descInFlight} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := &c.r.st
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descHits, st.hits.Load())
	counter(descMisses, st.misses.Load())
	counter(descFetches, st.fetches.Load())
	counter(descBytes, st.bytes.Load())
	counter(descReadahead, st.readahead.Load())
	counter(descCorrupt, st.verifyFailures.Load())
	counter(descPutErrors, st.putErrors.Load())
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(st.inFlight.Load()))
}
