package rack

import (
	"github.com/prometheus/client_golang/prometheus"
)

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
