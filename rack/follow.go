package rack

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/bootfs/bootfs/fs"
	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/cache"
)

// Follower timing. A region that answers "not modified" sooner than
// minPollInterval (one that does not hold long-polls) is asked again only
// after it, so the follower never spins.
const (
	minPollInterval = time.Second
	retryInitial    = time.Second
	retryMax        = 30 * time.Second
)

// treeState is what the follower knows, for status and metrics.
type treeState struct {
	// mu guards every field.
	mu           sync.Mutex
	generation   string
	files        int
	bytes        int64
	regions      []wire.Region // of the installed tree
	updated      time.Time     // when the installed tree was installed
	updates      int64         // trees installed
	lastAnswer   time.Time     // last time a region answered a poll
	pollErrors   int64         // polls no region answered
	failing      bool          // the last poll failed
	offlineSince time.Time     // first failed poll of the current run (zero: online)
	lastErr      string        // the last poll error or refused tree
	refused      int64         // trees fs refused (only a nil tree now: bad entries are skipped)
	// skipped are the entries of the installed tree fs left out.
	skipped []fs.Skipped
	// tooLarge are the installed tree's files larger than cache_size (read
	// through, never held), suggest a cache_size that holds them; warned
	// names the last list logged, so each list is logged once.
	tooLarge []string
	suggest  int64
	warned   string
	// loggedSkips are the skipped entries (path and reason) logged
	// already: each is logged once, however many trees repeat it.
	loggedSkips map[string]bool
}

// maxSkipLogs bounds the skipped entries logged one by one per tree.
const maxSkipLogs = 20

// install hands tree t to the reader and the file system, which applies
// its valid part, and saves it in the cache directory when save is set (a
// tree from a region, not the saved one).
func (m *Mount) install(t *wire.Tree, save bool) error {
	// Holders first, so that the new files' first reads already know
	// where to go.
	m.reader.SetHolders(holders(t))
	if err := m.root.Update(t); err != nil {
		return err
	}
	skipped := m.root.Skipped()
	var size int64
	sizes := make(map[string]int64, len(t.Files))
	for _, e := range t.Files {
		size += e.Size
		sizes[e.Path] = e.Size
	}
	for _, sk := range skipped {
		delete(sizes, sk.Path)
	}
	tooLarge, suggest := cache.TooLarge(m.cache.Stats().Limit, sizes)
	for _, sk := range skipped {
		size -= sk.Size
	}
	now := time.Now()
	s := &m.tree
	s.mu.Lock()
	s.generation, s.files, s.bytes = t.Generation, len(t.Files)-len(skipped), size
	s.regions = t.Regions
	s.updated = now
	if save {
		s.lastAnswer = now
	}
	s.updates++
	s.skipped = skipped
	s.tooLarge, s.suggest = tooLarge, suggest
	warnLarge := len(tooLarge) > 0 && strings.Join(tooLarge, "\x00") != s.warned
	s.warned = strings.Join(tooLarge, "\x00")
	var fresh []fs.Skipped
	seen := make(map[string]bool, len(skipped))
	for _, sk := range skipped {
		key := sk.Path + "\x00" + sk.Why
		seen[key] = true
		if !s.loggedSkips[key] {
			fresh = append(fresh, sk)
		}
	}
	s.loggedSkips = seen // forget entries no longer in the tree
	s.mu.Unlock()
	if warnLarge {
		m.cfg.Log.Warn("files larger than cache_size are read through the cache, never held: every boot fetches them again",
			"files", tooLarge, "cache_size", m.cache.Stats().Limit, "suggested_cache_size", suggest)
	}
	for i, sk := range fresh {
		if i == maxSkipLogs {
			m.cfg.Log.Warn("more tree entries skipped (see `bootfs status`)", "more", len(fresh)-i)
			break
		}
		m.cfg.Log.Warn("tree entry skipped; the rest of the tree is served", "generation", t.Generation,
			"path", sk.Path, "sha256", sk.SHA256, "err", sk.Why)
	}
	if m.prefetch != nil {
		m.prefetch.update(t)
	}
	if save {
		if err := saveTree(m.cfg.CacheDir, t); err != nil {
			m.cfg.Log.Warn("cannot save the boot tree in the cache directory; a restart with no region answering would not mount",
				"path", savedTreePath(m.cfg.CacheDir), "err", err)
		}
	}
	return nil
}

// follow long-polls the regions for tree changes and installs each new tree,
// until ctx ends. etag is the ETag of the installed tree.
func (m *Mount) follow(ctx context.Context, etag string) {
	log := m.cfg.Log
	retry := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(retryInitial),
		backoff.WithMaxInterval(retryMax),
		backoff.WithMaxElapsedTime(0),
	)
	for ctx.Err() == nil {
		start := time.Now()
		t, tag, err := m.client.Tree(ctx, etag, m.cfg.TreeWait)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			wait := retry.NextBackOff()
			if m.pollFailed(err) {
				log.Warn("no region answered the tree poll; serving the last tree", "err", err,
					"generation", m.root.Generation(), "retry", wait.Round(time.Millisecond))
			} else {
				log.Debug("tree poll failed", "err", err, "retry", wait.Round(time.Millisecond))
			}
			sleep(ctx, wait)
			continue
		}
		retry.Reset()
		if since, was := m.offlineSince(); m.pollAnswered() {
			if was {
				log.Info("a region answers again; online", "offline_for", time.Since(since).Round(time.Second))
			} else {
				log.Info("a region answers the tree poll again")
			}
		}
		if t == nil {
			etag = tag
			if d := time.Since(start); d < minPollInterval {
				sleep(ctx, minPollInterval-d)
			}
			continue
		}
		if err := m.install(t, true); err != nil {
			// Waiting on the refused tree's ETag: the regions are
			// asked again only once it changes.
			m.refused(err)
			log.Error("the regions sent a tree the file system refuses; keeping the current one",
				"generation", t.Generation, "err", err)
		} else {
			log.Info("boot tree updated", "generation", t.Generation, "files", len(t.Files), "skipped", len(m.root.Skipped()))
		}
		etag = tag
	}
}

// pollFailed records a failed poll and reports whether it is the first of
// a run of failures.
func (m *Mount) pollFailed(err error) bool {
	s := &m.tree
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pollErrors++
	s.lastErr = err.Error()
	first := !s.failing
	s.failing = true
	if first {
		s.offlineSince = time.Now()
	}
	return first
}

// pollAnswered records an answered poll and reports whether polls were
// failing before it.
func (m *Mount) pollAnswered() bool {
	s := &m.tree
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastAnswer = time.Now()
	was := s.failing
	s.failing = false
	s.offlineSince = time.Time{}
	return was
}

// offlineSince returns when the current run of failed polls began, if
// one is going on.
func (m *Mount) offlineSince() (time.Time, bool) {
	s := &m.tree
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offlineSince, !s.offlineSince.IsZero()
}

func (m *Mount) refused(err error) {
	s := &m.tree
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused++
	s.lastErr = err.Error()
}

// holders maps each file of t to the URLs of the regions that hold a
// complete copy (Entry.Regions names, resolved through Tree.Regions).
// Files with the same holders share one slice.
func holders(t *wire.Tree) map[digest.Digest][]string {
	urls := make(map[string]string, len(t.Regions))
	for _, r := range t.Regions {
		urls[r.Name] = strings.TrimRight(r.URL, "/")
	}
	shared := make(map[string][]string)
	out := make(map[digest.Digest][]string, len(t.Files))
	for _, e := range t.Files {
		if len(e.Regions) == 0 {
			continue
		}
		key := strings.Join(e.Regions, "\x00")
		hs, ok := shared[key]
		if !ok {
			for _, name := range e.Regions {
				if u := urls[name]; u != "" {
					hs = append(hs, u)
				}
			}
			shared[key] = hs
		}
		if len(hs) > 0 {
			out[e.SHA256] = hs
		}
	}
	return out
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
