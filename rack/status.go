package rack

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/bootfs/bootfs/fs"
)

// Status is a running mount's state, served as JSON by the root's
// user.bootfs.status extended attribute and printed by `bootfs status`.
type Status struct {
	Mountpoint string         `json:"mountpoint"`
	Source     string         `json:"source"`
	Started    time.Time      `json:"started"`
	Metrics    string         `json:"metrics,omitempty"` // listen address
	Tree       TreeStatus     `json:"tree"`
	Cache      CacheStatus    `json:"cache"`
	Reads      ReadStatus     `json:"reads"`
	Regions    []RegionStatus `json:"regions"`
	// Prefetch is the progress of prefetch= (absent without it).
	Prefetch *PrefetchStatus `json:"prefetch,omitempty"`
}

// TreeStatus describes the installed boot tree and the polls for changes.
type TreeStatus struct {
	Generation string    `json:"generation"`
	Files      int       `json:"files"`
	Bytes      int64     `json:"bytes"`
	Updated    time.Time `json:"updated"`     // when it was installed
	LastAnswer time.Time `json:"last_answer"` // last poll a region answered
	Updates    int64     `json:"updates"`     // trees installed since start
	PollErrors int64     `json:"poll_errors"` // polls no region answered
	Refused    int64     `json:"refused"`     // trees the file system refused
	Failing    bool      `json:"failing"`     // the last poll failed
	LastError  string    `json:"last_error,omitempty"`
	// Offline is set while no region answers (since OfflineSince): the
	// mount serves its last tree, which came from the cache directory if
	// it started so, and the cached files; other reads fail with EIO.
	Offline      bool      `json:"offline"`
	OfflineSince time.Time `json:"offline_since,omitzero"`
	// Skipped counts the entries of the tree left out as bad or clashing
	// (the rest is served); SkippedEntries lists the first of them.
	Skipped        int          `json:"skipped"`
	SkippedEntries []fs.Skipped `json:"skipped_entries,omitempty"`
	// TooLarge lists the tree's files larger than cache_size: they are
	// read through the cache, never held, so every boot fetches them from
	// a region again. SuggestedCacheSize would hold them (0: all fit).
	TooLarge           []string `json:"too_large,omitempty"`
	SuggestedCacheSize int64    `json:"suggested_cache_size,omitempty"`
}

// maxSkippedListed bounds TreeStatus.SkippedEntries.
const maxSkippedListed = 20

// CacheStatus describes the on-disk block cache.
type CacheStatus struct {
	Dir        string `json:"dir"`
	Limit      int64  `json:"limit"`
	Used       int64  `json:"used"`
	Blocks     int    `json:"blocks"`
	Files      int    `json:"files"`
	Evictions  int64  `json:"evictions"`
	Corrupt    int64  `json:"corrupt"` // entries discarded as torn or corrupt
	DiskErrors int64  `json:"disk_errors"`
	Degraded   bool   `json:"degraded"` // not storing blocks after a disk error
	// Passthrough counts opens of wholly cached files the kernel reads
	// directly (FUSE passthrough); their reads are not counted in
	// ReadStatus. Opens of one file that overlap share one hand-over
	// (bootfs_rack_cache_passthrough_files_total counts those).
	Passthrough int64 `json:"passthrough_opens"`
}

// ReadStatus counts reads: FUSE requests and the blocks behind them. Reads
// the kernel answers from its page cache never reach bootfs and are not
// counted.
type ReadStatus struct {
	Lookups         uint64 `json:"lookups"`
	NegativeLookups uint64 `json:"negative_lookups"`
	Opens           uint64 `json:"opens"`
	Reads           uint64 `json:"reads"`
	ReadBytes       uint64 `json:"read_bytes"`
	ReadErrors      uint64 `json:"read_errors"` // answered EIO
	// BlockHits are blocks of reads served from memory or the disk cache,
	// BlockMisses blocks that waited for a region; HitRatio is
	// hits / (hits + misses), 0 before any read.
	BlockHits   int64 `json:"block_hits"`
	BlockMisses int64 `json:"block_misses"`
	// WholeFileChecks are sha256 checks of whole cached files before their
	// first passthrough hand-over; WholeFileFailures the files that failed
	// (a region's block digest list describing other bytes).
	WholeFileChecks   int64   `json:"whole_file_checks"`
	WholeFileFailures int64   `json:"whole_file_failures"`
	HitRatio          float64 `json:"hit_ratio"`
	Fetches           int64   `json:"fetches"` // blocks fetched, readahead included
	BytesFetched      int64   `json:"bytes_fetched"`
	ReadaheadFetches  int64   `json:"readahead_fetches"`
	VerifyFailures    int64   `json:"verify_failures"` // blocks that failed their sha256
	CachePutErrors    int64   `json:"cache_put_errors"`
	InFlight          int64   `json:"in_flight"`
}

// RegionStatus is one configured region as the mount sees it.
type RegionStatus struct {
	URL            string    `json:"url"`
	Name           string    `json:"name,omitempty"` // from the tree, when its URL matches
	Alive          *bool     `json:"alive,omitempty"`
	BytesFetched   int64     `json:"bytes_fetched"`
	Requests       int64     `json:"requests"`
	Errors         int64     `json:"errors"`
	VerifyFailures int64     `json:"verify_failures"`
	BackoffUntil   time.Time `json:"backoff_until,omitzero"`
	LastError      string    `json:"last_error,omitempty"`
}

// Status returns the mount's current state.
func (m *Mount) Status() Status {
	st := Status{
		Mountpoint: m.cfg.Mountpoint,
		Source:     m.cfg.FsName,
		Started:    m.started,
		Metrics:    m.MetricsAddr(),
	}

	s := &m.tree
	s.mu.Lock()
	st.Tree = TreeStatus{
		Generation: s.generation, Files: s.files, Bytes: s.bytes, Updated: s.updated,
		LastAnswer: s.lastAnswer, Updates: s.updates, PollErrors: s.pollErrors,
		Refused: s.refused, Failing: s.failing, LastError: s.lastErr,
		Offline: !s.offlineSince.IsZero(), OfflineSince: s.offlineSince,
		Skipped: len(s.skipped), SkippedEntries: s.skipped[:min(len(s.skipped), maxSkippedListed)],
		TooLarge: s.tooLarge, SuggestedCacheSize: s.suggest,
	}
	treeRegions := s.regions
	s.mu.Unlock()

	cs := m.cache.Stats()
	fst := m.root.Stats()
	st.Cache = CacheStatus{
		Dir: m.cfg.CacheDir, Limit: cs.Limit, Used: cs.Used, Blocks: cs.Blocks, Files: cs.Files,
		Evictions: cs.Evictions, Corrupt: cs.Corrupt, DiskErrors: cs.DiskErrors, Degraded: cs.Degraded,
		Passthrough: int64(fst.PassthroughOpens),
	}

	rs := m.reader.Stats()
	st.Reads = ReadStatus{
		Lookups: fst.Lookups, NegativeLookups: fst.NegativeLookups, Opens: fst.Opens,
		Reads: fst.Reads, ReadBytes: fst.ReadBytes, ReadErrors: fst.ReadErrors,
		BlockHits: rs.Hits, BlockMisses: rs.Misses, Fetches: rs.Fetches, BytesFetched: rs.BytesFetched,
		ReadaheadFetches: rs.ReadaheadFetches, VerifyFailures: rs.VerifyFailures,
		CachePutErrors: rs.PutErrors, InFlight: rs.InFlight,
		WholeFileChecks: rs.WholeChecks, WholeFileFailures: rs.WholeFailures,
	}
	if n := rs.Hits + rs.Misses; n > 0 {
		st.Reads.HitRatio = float64(rs.Hits) / float64(n)
	}

	if m.prefetch != nil {
		st.Prefetch = m.prefetch.status()
	}

	for _, r := range m.client.Stats() {
		rst := RegionStatus{
			URL: r.URL, BytesFetched: r.BytesFetched, Requests: r.Requests, Errors: r.Errors,
			VerifyFailures: r.VerifyFailures, LastError: r.LastError,
		}
		if r.BackoffUntil.After(time.Now()) {
			rst.BackoffUntil = r.BackoffUntil
		}
		for _, tr := range treeRegions {
			if strings.TrimRight(tr.URL, "/") == r.URL {
				alive := tr.Alive
				rst.Name, rst.Alive = tr.Name, &alive
			}
		}
		st.Regions = append(st.Regions, rst)
	}
	return st
}

// statusJSON is fs.Options.Status.
func (m *Mount) statusJSON() ([]byte, error) {
	return json.Marshal(m.Status())
}
