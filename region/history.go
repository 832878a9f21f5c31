package region

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// registerHistoryGauges exposes when this region's last import and last
// peer sync succeeded (from the import history in PostgreSQL, so the value
// survives a restart): bootfs_region_import_last_success_timestamp_seconds
// and bootfs_region_sync_last_success_timestamp_seconds, 0 before any.
func (r *Region) registerHistoryGauges() {
	for _, kind := range []string{"import", "sync"} {
		var mu sync.Mutex // guards last
		var last float64  // the value of the last scrape that could read the database
		r.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bootfs_region_" + kind + "_last_success_timestamp_seconds",
			Help: "Unix time at which this region's last " + kind + " that ended done finished (0: none yet).",
		}, func() float64 {
			mu.Lock()
			defer mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			t, err := r.db.LastSuccess(ctx, r.id, kind)
			if err != nil {
				return last // the database is unreachable: the last known value
			}
			last = 0
			if !t.IsZero() {
				last = float64(t.UnixNano()) / 1e9
			}
			return last
		}))
	}
}
