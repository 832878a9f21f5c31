package client

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// region is one region and its health. Every field but url is guarded by
// Client.mu.
type region struct {
	url string

	bytes, requests, errors, verifyFailures int64

	failures int                         // consecutive failures; 0 = healthy
	retry    *backoff.ExponentialBackOff // how long to leave it alone after a failure
	until    time.Time                   // backing off until then (zero: not)
	latency  time.Duration               // moving average of successful requests
	lastErr  string
}

// backoffLimits are the first and the longest backoff of a failing region.
type backoffLimits struct{ initial, max time.Duration }

// newBackOff returns the schedule a region that keeps failing is left
// alone by: initial doubled per failure up to max, jittered by +-20% so
// that racks do not return to a recovering region in lockstep. It is
// cenkalti/backoff, the one retry scheme of bootfs.
func newBackOff(initial, max time.Duration) *backoff.ExponentialBackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(initial),
		backoff.WithMaxInterval(max),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.2),
		backoff.WithMaxElapsedTime(0),
	)
}

// order returns the regions in the order to try them: regions not backing
// off before those backing off; among the former, holders before the others,
// then the fastest (unmeasured ones count as fastest, so they get measured);
// among the latter, the one whose backoff ends first.
func (c *Client) order(holders []string) []*region {
	now := c.now()
	type cand struct {
		r       *region
		backing bool
		holder  bool
		until   time.Time
		latency time.Duration
	}
	c.mu.Lock()
	cands := make([]cand, len(c.regions))
	for i, r := range c.regions {
		cands[i] = cand{r: r, backing: now.Before(r.until), until: r.until, latency: r.latency}
	}
	c.mu.Unlock()
	for _, h := range holders {
		h = strings.TrimRight(h, "/")
		for i := range cands {
			if cands[i].r.url == h {
				cands[i].holder = true
			}
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		if a.backing != b.backing {
			return boolCmp(a.backing, b.backing)
		}
		if a.holder != b.holder {
			return boolCmp(b.holder, a.holder)
		}
		if a.backing {
			return a.until.Compare(b.until)
		}
		return cmp.Compare(a.latency, b.latency)
	})
	out := make([]*region, len(cands))
	for i, c := range cands {
		out[i] = c.r
	}
	return out
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

// ProbeTimeout bounds the wait for the response header of a read request
// (block digests, a block) sent to a region whose last request failed
// (whether or not its backoff has run out): while every region is down, a
// read of a file not cached fails (EIO) after at most ProbeTimeout per
// region instead of Options.StallTimeout, and a region that answers again
// is used at once (tree polls keep probing in the background).
const ProbeTimeout = 2 * time.Second

// firstTimeout is how long a read request to r may wait for its response
// header: the stall timeout, or ProbeTimeout when r's last request failed.
func (c *Client) firstTimeout(r *region) time.Duration {
	c.mu.Lock()
	failing := r.failures > 0
	c.mu.Unlock()
	if failing {
		return min(c.stall, ProbeTimeout)
	}
	return c.stall
}

// succeeded records a successful request that brought n file bytes and
// took d (0: not timed, e.g. a long-poll).
func (c *Client) succeeded(r *region, n int64, d time.Duration) {
	c.mu.Lock()
	recovered := r.failures > 0
	r.requests++
	r.bytes += n
	r.failures = 0
	r.retry.Reset()
	r.until = time.Time{}
	switch {
	case d == 0: // not a timed request
	case r.latency == 0:
		r.latency = d
	default:
		r.latency = (7*r.latency + d) / 8
	}
	c.mu.Unlock()
	c.metrics.observe(r.url, n, d)
	if recovered {
		c.log.Info("region recovered", "region", r.url)
	}
}

// missed records a request answered with "not held": no health penalty.
func (c *Client) missed(r *region) {
	c.mu.Lock()
	r.requests++
	c.mu.Unlock()
	c.metrics.request(r.url)
}

// failed records a failed request and puts the region in backoff.
func (c *Client) failed(r *region, err error, corrupt bool) {
	c.mu.Lock()
	r.requests++
	r.errors++
	if corrupt {
		r.verifyFailures++
	}
	r.failures++
	n := r.failures
	wait := r.retry.NextBackOff()
	r.until = c.now().Add(wait)
	r.lastErr = err.Error()
	c.mu.Unlock()
	c.metrics.failure(r.url, err, corrupt)
	// Warn on the first failure of a run, then only at debug level, so a
	// region that stays down does not flood the log.
	lvl := slog.LevelWarn
	if n > 1 {
		lvl = slog.LevelDebug
	}
	c.log.Log(context.Background(), lvl, "region failed, backing off", "region", r.url, "err", err, "failures", n, "backoff", wait.Round(time.Millisecond))
}
