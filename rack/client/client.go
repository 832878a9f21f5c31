// Package client is a rack's HTTP client for the region API (package wire):
// it fetches the boot tree, the per-block digests of files, and byte ranges
// of files, from whichever of several regions can serve them.
//
// # Regions, health and failover
//
// A rack knows every region by URL. Each region carries a small health state
// kept by the Client: a latency average of its successful requests and, after
// a failure, a "backing off until" time that doubles with each consecutive
// failure (from Options.BackoffInitial up to Options.BackoffMax, with
// jitter) and is cleared by the next success. Requests try regions in health
// order: regions not backing off first (the regions known to hold the file
// first among those, then the fastest), then the ones backing off as a last
// resort, soonest-recovering first. A region that refuses, times out,
// answers 5xx or sends bytes that do not match their digest is skipped for
// the request at hand and put in backoff. A region answering 404 is healthy
// but lacks the file; it is skipped without penalty.
//
// The backoff schedule is github.com/cenkalti/backoff/v4's, the one retry
// scheme of bootfs: one ExponentialBackOff per region, guarded by the
// client's lock like the rest of the region's health, because many
// concurrent fetches share one region's state. They only ask "may I use it
// now, and in which order": a failure sets the region's "until" from the
// schedule's next interval, a success resets it.
//
// # Timeouts
//
// Besides the dial timeout of the default transport, every request has a
// stall watchdog: it is abandoned when no response header arrives within
// Options.StallTimeout (plus the long-poll wait for Tree), or when its body
// then makes no progress for StallTimeout. A slow region that keeps sending
// is never cut; a dead one is cut quickly.
//
// # Verification
//
// FetchBlock returns only bytes whose SHA-256 equals the digest the caller
// wants; a mismatch is a failure of that region (ErrCorrupt) and the bytes
// are fetched from another region. Block digest lists are checked for shape
// (size, block size, count) against the file they describe.
package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// Errors returned by the Client; test with errors.Is.
var (
	// ErrUnavailable: no region could serve the request. It wraps the
	// errors of the regions tried.
	ErrUnavailable = errors.New("no region could serve the request")
	// ErrUnauthorized: a region refused the shared secret (HTTP 401).
	ErrUnauthorized = errors.New("region refused the shared secret (check the rack's secret matches the regions')")
	// ErrNotFound: a region does not hold the file (HTTP 404).
	ErrNotFound = errors.New("region does not hold the file")
	// ErrCorrupt: a region sent bytes or block digests that do not match.
	ErrCorrupt = errors.New("region sent corrupt data")
)

// Options configure a Client. Zero values get the documented defaults.
type Options struct {
	// Regions are the regions' base URLs, e.g. "http://10.0.0.2:5240".
	// At least one is required.
	Regions []string
	// Secret is the shared secret sent as "Authorization: Bearer <secret>".
	Secret string
	// HTTP is the client used for every request. nil means a tuned default:
	// dial timeout 3s, keep-alives, up to MaxIdleConnsPerHost idle
	// connections per region, no proxy, no transparent compression (Tree
	// asks for gzip itself and decodes it). The response-header timeout
	// (10s) is the stall watchdog (StallTimeout), applied per request so
	// that tree long-polls can wait longer. A custom
	// client must not set a Timeout shorter than the longest Tree wait.
	HTTP *http.Client
	// Log receives region failures and recoveries. nil discards.
	Log *slog.Logger
	// Metrics, if set, registers bytes fetched, requests, errors and
	// verification failures per region and a fetch latency histogram.
	Metrics prometheus.Registerer
	// StallTimeout abandons a request that gets no response header, or no
	// body byte, for this long. Default 10s.
	StallTimeout time.Duration
	// BackoffInitial is the first backoff of a failing region; each
	// consecutive failure doubles it up to BackoffMax. Defaults 500ms, 30s.
	BackoffInitial, BackoffMax time.Duration
	// DigestCache is how many files' block digest lists are memoised.
	// Default 1024.
	DigestCache int
}

// MaxIdleConnsPerHost is the default transport's idle connections per
// region: enough for the rack reader's default 16 concurrent fetches plus
// tree polls.
const MaxIdleConnsPerHost = 32

// Client talks to the regions. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	secret  string
	log     *slog.Logger
	stall   time.Duration
	backoff backoffLimits
	now     func() time.Time // replaced in tests
	metrics *metrics

	regions []*region
	byURL   map[string]*region

	// mu guards the health fields of every region (see region).
	mu sync.Mutex

	digests *lru.Cache[digest.Digest, *wire.BlockDigests]
	flights singleflight.Group // block digest fetches by file
}

// New validates o and returns a Client.
func New(o Options) (*Client, error) {
	if len(o.Regions) == 0 {
		return nil, errors.New("client: no region URL given")
	}
	if o.Secret == "" {
		return nil, errors.New("client: no shared secret given")
	}
	c := &Client{
		http:    o.HTTP,
		secret:  o.Secret,
		log:     o.Log,
		stall:   o.StallTimeout,
		backoff: backoffLimits{initial: o.BackoffInitial, max: o.BackoffMax},
		now:     time.Now,
		byURL:   make(map[string]*region),
	}
	if c.http == nil {
		c.http = defaultHTTP()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.stall <= 0 {
		c.stall = 10 * time.Second
	}
	if c.backoff.initial <= 0 {
		c.backoff.initial = 500 * time.Millisecond
	}
	if c.backoff.max <= 0 {
		c.backoff.max = 30 * time.Second
	}
	c.backoff.max = max(c.backoff.max, c.backoff.initial)
	size := o.DigestCache
	if size <= 0 {
		size = 1024
	}
	var err error
	if c.digests, err = lru.New[digest.Digest, *wire.BlockDigests](size); err != nil {
		return nil, fmt.Errorf("client: digest cache: %w", err)
	}
	for _, raw := range o.Regions {
		u, err := normalizeURL(raw)
		if err != nil {
			return nil, fmt.Errorf("client: region URL %q: %w", raw, err)
		}
		if c.byURL[u] != nil {
			return nil, fmt.Errorf("client: region URL %q given twice", raw)
		}
		r := &region{url: u, retry: newBackOff(c.backoff.initial, c.backoff.max)}
		c.regions = append(c.regions, r)
		c.byURL[u] = r
	}
	if c.metrics, err = newMetrics(o.Metrics); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return c, nil
}

// normalizeURL checks that s is an absolute http(s) URL without query or
// fragment and returns it without trailing slashes.
func normalizeURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("scheme must be http or https")
	case u.Host == "":
		return "", errors.New("no host")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", errors.New("must not have a query, fragment or user")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func defaultHTTP() *http.Client {
	d := &net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        4 * MaxIdleConnsPerHost,
		MaxIdleConnsPerHost: MaxIdleConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
		DisableCompression:  true,
	}}
}

// RegionStats describes one region as the Client sees it.
type RegionStats struct {
	URL            string
	BytesFetched   int64
	Requests       int64
	Errors         int64
	VerifyFailures int64
	// BackoffUntil is zero when the region is healthy.
	BackoffUntil time.Time
	// LastError is the text of the latest failure, "" if none.
	LastError string
}

// Stats returns the state of every region, in configuration order.
func (c *Client) Stats() []RegionStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]RegionStats, len(c.regions))
	for i, r := range c.regions {
		out[i] = RegionStats{
			URL:            r.url,
			BytesFetched:   r.bytes,
			Requests:       r.requests,
			Errors:         r.errors,
			VerifyFailures: r.verifyFailures,
			BackoffUntil:   r.until,
			LastError:      r.lastErr,
		}
	}
	return out
}
