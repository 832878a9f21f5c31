package reader

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// counters are the Reader's statistics.
type counters struct {
	hits, misses, fetches, bytes, readahead, verifyFailures, putErrors, inFlight atomic.Int64
	// whole-file sha256 checks before passthrough (whole.go)
	wholeChecks, wholeFailures, wholeBytes, wholeNanos atomic.Int64
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
	// WholeChecks are whole-file sha256 checks of cached files before
	// their first passthrough hand-over, WholeBytes the bytes they hashed
	// and WholeSeconds the time they took; WholeFailures are files whose
	// cached bytes did not match their sha256 (a wrong block digest list).
	WholeChecks, WholeFailures, WholeBytes int64
	WholeSeconds                           float64
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
	r.wholeStats(&s)
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
	descWhole     = prometheus.NewDesc("bootfs_rack_reader_whole_file_checks_total", "Whole-file sha256 checks of cached files before passthrough.", nil, nil)
	descWholeBad  = prometheus.NewDesc("bootfs_rack_reader_whole_file_check_failures_total", "Cached files whose bytes did not match their sha256 (a wrong block digest list from a region).", nil, nil)
	descWholeB    = prometheus.NewDesc("bootfs_rack_reader_whole_file_check_bytes_total", "Bytes hashed by whole-file checks.", nil, nil)
	descWholeS    = prometheus.NewDesc("bootfs_rack_reader_whole_file_check_seconds_total", "Time spent in whole-file checks.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHits, descMisses, descFetches, descBytes, descReadahead, descCorrupt, descPutErrors, descInFlight, descWhole, descWholeBad, descWholeB, descWholeS} {
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
	counter(descWhole, st.wholeChecks.Load())
	counter(descWholeBad, st.wholeFailures.Load())
	counter(descWholeB, st.wholeBytes.Load())
	ch <- prometheus.MustNewConstMetric(descWholeS, prometheus.CounterValue, float64(st.wholeNanos.Load())/1e9)
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(st.inFlight.Load()))
}
