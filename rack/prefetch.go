package rack

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/cache"
	"github.com/bootfs/bootfs/rack/reader"
)

// DefaultPrefetchRate bounds prefetching when Config.PrefetchRate is 0:
// 50 MiB/s, about 40% of a 1 Gbit/s link (the slowest a rack's link to its
// region usually is) and 4% of a 10 Gbit/s one, so that boots keep most of
// the link even before prefetching yields to them, while a 1 GB squashfs
// still warms in about 20 seconds. A fixed figure rather than a share of a
// measured throughput: the rack measures only its own fetches, which are
// latency-bound per block and say little about the link.
const DefaultPrefetchRate = 50 << 20

// Prefetcher timing.
const (
	// prefetchIdlePoll is how often a prefetcher yielding to foreground
	// fetches looks again.
	prefetchIdlePoll = 10 * time.Millisecond
	// prefetchQuiet is how long no fetch for reads must have been in
	// flight before prefetching resumes.
	prefetchQuiet = 100 * time.Millisecond
	// prefetchRateWindow is the window of the rate shown in the status.
	prefetchRateWindow = 5 * time.Second
)

// checkGlobs checks prefetch globs: tree paths (slash-separated, no
// leading slash) with path.Match patterns per component.
func checkGlobs(globs []string) ([]string, error) {
	out := make([]string, 0, len(globs))
	for _, g := range globs {
		g = strings.TrimPrefix(strings.TrimSpace(g), "/")
		if g == "" {
			return nil, errors.New("prefetch: empty glob (want tree paths such as ubuntu/amd64/*/noble/stable/*, separated by ':')")
		}
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("prefetch: glob %q: %w (path.Match syntax, per path component: * ? [a-z] \\x)", g, err)
		}
		out = append(out, g)
	}
	return out, nil
}

// matchGlobs reports whether tree path p matches one of globs.
func matchGlobs(globs []string, p string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
	}
	return false
}

// prefetcher fetches the files of the tree that match its globs into the
// block cache in the background: at each installed tree, the matching
// files not cached whole yet are queued (at the first tree, every matching
// file not cached), and one goroutine fetches their missing blocks, one at
// a time, through the reader's verified block path (Reader.PrefetchBlock),
// at most rate bytes per second, and not while another fetch from a region
// is in flight (foreground reads and their readahead go first). A file
// whose blocks the cache cannot keep (larger than the cache, or evicted
// again at once because what is cached is read more often) is given up.
//
// In the cache a prefetched file counts as read once (its first block
// is Put once), so under the frequency policy (rack/cache/policy.go) it
// never displaces a file machines read more often: it is evicted first.
type prefetcher struct {
	globs  []string
	rate   int64 // bytes per second
	reader *reader.Reader
	cache  *cache.Cache
	m      *Mount // for the log

	wake chan struct{} // a tree was queued (capacity 1)

	lastBusy time.Time // when a fetch for reads was last seen in flight (run's goroutine only)

	// mu guards every field below.
	mu       sync.Mutex
	queue    []wire.Entry
	queued   map[digest.Digest]bool // in queue, or current
	done     map[digest.Digest]bool // cached whole (by prefetching or before)
	current  wire.Entry             // Path "" when idle
	curDone  int64                  // bytes of current cached so far
	paused   bool                   // yielding to foreground fetches
	announce bool                   // log when the queue drains
	// Progress since the mount started: files and bytes queued, and of
	// them cached (fetched or found cached).
	filesTotal, filesDone, bytesTotal, bytesDone int64
	failed                                       int64
	lastErr                                      string
	samples                                      []rateSample // fetches in the last prefetchRateWindow

	fetchedBytes atomic.Int64 // bytes fetched from regions
	fetchedFiles atomic.Int64 // files completed with at least one block fetched
}

type rateSample struct {
	at time.Time
	n  int64
}

func newPrefetcher(m *Mount, globs []string, rate int64) *prefetcher {
	return &prefetcher{
		globs: globs, rate: rate, reader: m.reader, cache: m.cache, m: m,
		wake:   make(chan struct{}, 1),
		queued: make(map[digest.Digest]bool),
		done:   make(map[digest.Digest]bool),
	}
}

// update queues the files of t matching the globs that are neither done nor
// queued, and drops queued files t no longer lists.
func (p *prefetcher) update(t *wire.Tree) {
	in := make(map[digest.Digest]bool, len(t.Files))
	var fresh []wire.Entry
	p.mu.Lock()
	for _, e := range t.Files {
		if !matchGlobs(p.globs, e.Path) {
			continue
		}
		in[e.SHA256] = true
		if p.done[e.SHA256] || p.queued[e.SHA256] || e.Size <= 0 {
			continue
		}
		p.queued[e.SHA256] = true
		fresh = append(fresh, e)
	}
	kept := p.queue[:0]
	for _, e := range p.queue {
		if in[e.SHA256] {
			kept = append(kept, e)
			continue
		}
		delete(p.queued, e.SHA256)
		p.filesTotal--
		p.bytesTotal -= e.Size
	}
	p.queue = kept
	for d := range p.done {
		if !in[d] {
			delete(p.done, d) // a file that comes back is a new set again
		}
	}
	p.mu.Unlock()
	// Outside p.mu: the cache has its own lock.
	var add []wire.Entry
	var cached []wire.Entry
	for _, e := range fresh {
		if p.cachedWhole(e) {
			cached = append(cached, e)
		} else {
			add = append(add, e)
		}
	}
	p.mu.Lock()
	for _, e := range cached {
		delete(p.queued, e.SHA256)
		p.done[e.SHA256] = true
	}
	for _, e := range add {
		p.queue = append(p.queue, e)
		p.filesTotal++
		p.bytesTotal += e.Size
	}
	p.mu.Unlock()
	if len(add) > 0 {
		p.m.cfg.Log.Info("prefetching new files matching prefetch=", "files", len(add), "generation", t.Generation)
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// cachedWhole reports whether every block of e is in the disk cache.
func (p *prefetcher) cachedWhole(e wire.Entry) bool {
	for i := range digest.BlockCount(e.Size, digest.BlockSize) {
		if !p.cache.Contains(cache.Key{File: e.SHA256, Index: i}) {
			return false
		}
	}
	return true
}

// run prefetches queued files until ctx ends.
func (p *prefetcher) run(ctx context.Context) {
	var next time.Time // the pacing: no fetch starts before it
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			if p.current.Path != "" || p.announce {
				p.m.cfg.Log.Info("prefetch done", "files", p.filesDone, "of", p.filesTotal, "bytes_fetched", p.fetchedBytes.Load(), "failed", p.failed)
			}
			p.current, p.announce = wire.Entry{}, false
			p.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
				continue
			}
		}
		e := p.queue[0]
		p.queue = p.queue[1:]
		p.current, p.curDone = e, 0
		p.mu.Unlock()

		err := p.file(ctx, e, &next)
		if ctx.Err() != nil {
			return
		}
		p.m.cfg.Log.Debug("prefetched", "path", e.Path, "sha256", e.SHA256.String(), "err", err)
		p.mu.Lock()
		p.announce = true
		delete(p.queued, e.SHA256)
		p.filesDone++
		p.bytesDone += e.Size - p.curDone // the rest counts as handled
		if err != nil {
			p.failed++
			p.lastErr = fmt.Sprintf("%s: %v", e.Path, err)
		} else {
			p.done[e.SHA256] = true
		}
		p.current = wire.Entry{}
		p.mu.Unlock()
		if err != nil {
			p.m.cfg.Log.Warn("prefetch of a file given up; it is fetched when first read", "path", e.Path, "sha256", e.SHA256.String(), "err", err)
		}
	}
}

// errNoRoom: the cache did not keep a prefetched block.
var errNoRoom = errors.New("the block cache does not keep it: larger than cache_size, or the cached files are read more often")

// file prefetches the blocks of e the cache does not hold.
func (p *prefetcher) file(ctx context.Context, e wire.Entry, next *time.Time) error {
	if e.Size > p.cache.Stats().Limit {
		return errNoRoom
	}
	fetched := false
	for i := range digest.BlockCount(e.Size, digest.BlockSize) {
		k := cache.Key{File: e.SHA256, Index: i}
		n := min(digest.BlockSize, e.Size-i*digest.BlockSize)
		if !p.cache.Contains(k) {
			if err := p.yield(ctx, *next); err != nil {
				return err
			}
			start := time.Now()
			got, err := p.reader.PrefetchBlock(ctx, e.SHA256, e.Size, i)
			if err != nil {
				return err
			}
			if got > 0 {
				fetched = true
				p.fetchedBytes.Add(int64(got))
				*next = start.Add(time.Duration(float64(got) / float64(p.rate) * float64(time.Second)))
				if now := time.Now(); next.Before(now) {
					// Slower than the rate: no credit for the past.
					*next = now
				}
				p.sample(int64(got))
			}
			// A Put evicts before it stores: when the cache keeps
			// the new block at the cost of this file's previous one,
			// the cached files are read more often than this one.
			if !p.cache.Contains(k) || i > 0 && !p.cache.Contains(cache.Key{File: e.SHA256, Index: i - 1}) {
				return errNoRoom
			}
		}
		p.mu.Lock()
		p.curDone += n
		p.bytesDone += n
		p.mu.Unlock()
	}
	if fetched {
		p.fetchedFiles.Add(1)
	}
	return nil
}

// yield waits until the pacing allows the next fetch and no other fetch
// from a region has been in flight for prefetchQuiet (a sequential reader
// has gaps between its fetches; prefetching does not slip into them).
func (p *prefetcher) yield(ctx context.Context, next time.Time) error {
	if d := time.Until(next); d > 0 {
		sleep(ctx, d)
	}
	for ctx.Err() == nil {
		if p.reader.Stats().InFlight > 0 {
			p.lastBusy = time.Now()
		} else if time.Since(p.lastBusy) >= prefetchQuiet {
			break
		}
		p.setPaused(true)
		sleep(ctx, prefetchIdlePoll)
	}
	p.setPaused(false)
	return ctx.Err()
}

func (p *prefetcher) setPaused(v bool) {
	p.mu.Lock()
	p.paused = v
	p.mu.Unlock()
}

// sample records n bytes fetched now, for the status's rate.
func (p *prefetcher) sample(n int64) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples = append(p.samples, rateSample{at: now, n: n})
	i := 0
	for i < len(p.samples) && now.Sub(p.samples[i].at) > prefetchRateWindow {
		i++
	}
	p.samples = p.samples[i:]
}

// status returns the prefetcher's progress.
func (p *prefetcher) status() *PrefetchStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := &PrefetchStatus{
		Globs: p.globs, RateLimit: p.rate,
		FilesDone: p.filesDone, FilesTotal: p.filesTotal, BytesDone: p.bytesDone, BytesTotal: p.bytesTotal,
		BytesFetched: p.fetchedBytes.Load(), FilesFetched: p.fetchedFiles.Load(),
		Queued: len(p.queue), Paused: p.paused, Failed: p.failed, LastError: p.lastErr,
	}
	if p.current.Path != "" {
		st.Current, st.CurrentDone, st.CurrentSize = p.current.Path, p.curDone, p.current.Size
		st.FilesTotal = max(st.FilesTotal, st.FilesDone+1)
	}
	now := time.Now()
	var n int64
	for _, s := range p.samples {
		if now.Sub(s.at) <= prefetchRateWindow {
			n += s.n
		}
	}
	st.BytesPerSecond = float64(n) / prefetchRateWindow.Seconds()
	return st
}

// pending returns the bytes queued and not cached yet.
func (p *prefetcher) pending() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.bytesTotal-p.bytesDone, 0)
}

// PrefetchStatus is the progress of prefetch= (Status.Prefetch).
type PrefetchStatus struct {
	Globs     []string `json:"globs"`
	RateLimit int64    `json:"rate_limit"` // bytes per second
	// Files and bytes queued since the mount started (FilesTotal,
	// BytesTotal) and of them handled: cached, or given up (Failed).
	FilesDone  int64 `json:"files_done"`
	FilesTotal int64 `json:"files_total"`
	BytesDone  int64 `json:"bytes_done"`
	BytesTotal int64 `json:"bytes_total"`
	// BytesFetched are the bytes prefetching fetched from regions,
	// FilesFetched the files it completed with at least one fetch.
	BytesFetched int64 `json:"bytes_fetched"`
	FilesFetched int64 `json:"files_fetched"`
	Queued       int   `json:"queued"` // files waiting
	// Current is the file being prefetched ("" when idle).
	Current     string `json:"current,omitempty"`
	CurrentDone int64  `json:"current_done,omitempty"`
	CurrentSize int64  `json:"current_size,omitempty"`
	// BytesPerSecond is the prefetch rate over the last 5 seconds.
	BytesPerSecond float64 `json:"bytes_per_second"`
	// Paused: yielding to fetches for reads.
	Paused    bool   `json:"paused"`
	Failed    int64  `json:"failed"` // files given up
	LastError string `json:"last_error,omitempty"`
}
