package cache

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/internal/lru"
)

// Defaults applied by Open to zero Options fields.
const (
	DefaultLimit       int64 = 4 << 30
	DefaultDegradedFor       = time.Minute
)

var (
	// ErrDegraded is returned by Put while the cache rests after a disk error.
	ErrDegraded = errors.New("block cache degraded after a disk error")
	// ErrClosed is returned by Put and Flush after Close.
	ErrClosed = errors.New("block cache closed")
	// ErrNoRoom is returned by Put when every cached block that could make
	// room is in use (being read, or handed out by Backing) or being stored.
	ErrNoRoom = errors.New("no room in the block cache: the blocks that could be evicted are in use")
	// ErrInUse is returned by Open when another Cache holds the directory.
	ErrInUse = errors.New("block cache directory in use")
)

// Key names one block: the file's sha256 and the block index.
type Key struct {
	File  digest.Digest
	Index int64
}

// String returns "<sha256 hex>/<index>".
func (k Key) String() string { return fmt.Sprintf("%s/%d", k.File, k.Index) }

func (k Key) attrs() []any { return []any{"sha256", k.File.String(), "block", k.Index} }

// Options configure Open. The zero value of every field but Dir is usable.
type Options struct {
	// Dir is the cache directory; it is created if missing.
	Dir string
	// Limit is the most bytes of block data kept (DefaultLimit when 0).
	Limit int64
	// Log receives warnings and state changes (discarded when nil).
	Log *slog.Logger
	// Metrics, when not nil, gets a collector for the cache's counters and
	// gauges (bootfs_rack_cache_*); it is unregistered on Close.
	Metrics prometheus.Registerer
	// DegradedFor is how long Put refuses to touch the disk after a disk
	// error (DefaultDegradedFor when 0).
	DegradedFor time.Duration
	// VerifyHits checks the CRC of every chunk on every read, even when the
	// bytes come from the page cache. Off by default: see the package doc.
	VerifyHits bool
	// BufferedWrites writes blocks through the page cache instead of with
	// O_DIRECT (direct.go): the written blocks then stay in memory, at the
	// cost of a copy per byte and a second page-cache copy of what the
	// mount already holds.
	BufferedWrites bool
}

// Stats is a snapshot of the cache's state and counters.
type Stats struct {
	Limit      int64 // bytes of block data at most
	Used       int64 // bytes of cached blocks plus puts in flight
	Blocks     int   // cached blocks
	Files      int   // distinct File digests among cached blocks
	Hits       int64 // reads served
	Misses     int64 // reads not served (absent or discarded)
	Evictions  int64 // blocks evicted to stay within Limit
	Corrupt    int64 // entries discarded as torn, corrupt or missing
	DiskErrors int64 // failed writes, reads, syncs and removals
	Backings   int64 // whole files handed out for FUSE passthrough (Backing)
	// DirectWrites and BufferedWrites count blocks written with O_DIRECT
	// and through the page cache (direct.go).
	DirectWrites, BufferedWrites int64
	Degraded                     bool // Put is resting after a disk error
}

// Cache is an on-disk block cache. It is safe for concurrent use.
type Cache struct {
	dir         string
	limit       int64
	degradedFor time.Duration
	verifyHits  bool
	log         *slog.Logger
	metrics     prometheus.Registerer
	collector   prometheus.Collector
	lock        *os.File           // holds the flock on Dir/lock
	now         func() time.Time   // replaced by tests
	testHook    func(stage string) // set by tests before use: called mid-read
	syncFile    func(string) error // fsyncs a content file (syncPath; tests replace it)

	closeOnce sync.Once
	closeErr  error // result of the first Close, set inside closeOnce

	// markMu serializes fragile markers (fragile.go) and guards
	// cfile.marked; it is taken before mu, never while mu is held.
	markMu sync.Mutex

	// flushMu serializes Flush calls: the index temp file and the order in
	// which index versions are renamed into place.
	flushMu sync.Mutex

	// mu guards every field below up to the counters: the index, the eviction
	// lists, byte accounting, puts in flight, per-file counts, the degraded
	// deadline, the dirty flag, the generation counter, closed, and the
	// mutable fields of every entry (trusted, synced, the kept descriptor).
	mu            sync.Mutex
	entries       map[Key]*entry
	order         *fileLFU[digest.Digest] // eviction order of the entries (policy.go)
	lastTick      int64                   // its clock (tickLocked)
	fds           *lru.LRU[*cfile, int]   // kept content file descriptors (fds.go)
	used          int64                   // bytes of entries plus reservations of puts in flight
	pinnedBytes   int64                   // bytes of entries in the index with pins > 0
	pendingBytes  int64                   // reservations of puts in flight
	pending       map[Key]struct{}
	files         map[digest.Digest]*cfile // content files with blocks or puts in flight
	held          map[heldKey]int          // removed entries still pinned, per file record and block
	fragile       map[digest.Digest]bool   // files a kernel may still read by passthrough after an earlier process (see index.go)
	nextGen       uint64
	degradedUntil time.Time
	dirty         bool // index or eviction order changed since the last Flush
	closed        bool
	// diskq is the disk work decided under mu and done outside it
	// (diskwork.go); diskBusy counts its ops, queued or running, per file
	// digest; diskCond (on mu) is signalled as they finish. diskWG counts
	// the ops running; Close waits for them (Add only under mu while not
	// closed).
	diskq    []diskOp
	diskBusy map[digest.Digest]int
	diskCond *sync.Cond
	diskWG   sync.WaitGroup
	diskHook func(diskOp) // set by tests before use: called before an op's system calls
	// inflight counts reads and Backing checks between their lookup and
	// release; Close waits for them (Add only under mu while not closed).
	inflight sync.WaitGroup

	hits, misses, evictions, corrupt, diskErrors atomic.Int64
	backings                                     atomic.Int64    // whole files handed out by Backing
	writes                                       [2]atomic.Int64 // blocks written, by writeMode
	direct                                       atomic.Bool     // write blocks with O_DIRECT (direct.go)
	noWaitOff                                    atomic.Bool     // RWF_NOWAIT unsupported here
}

func (o Options) withDefaults() Options {
	if o.Limit <= 0 {
		o.Limit = DefaultLimit
	}
	if o.DegradedFor <= 0 {
		o.DegradedFor = DefaultDegradedFor
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Open opens (creating if needed) the cache in o.Dir, loads its index and
// removes block files the index does not list. A missing or unreadable index
// yields an empty cache; only failures to create or lock the directory are
// errors.
func Open(o Options) (*Cache, error) {
	o = o.withDefaults()
	if o.Dir == "" {
		return nil, errors.New("cache: no directory given")
	}
	if err := makeDirs(o.Dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(filepath.Join(o.Dir, lockName))
	if err != nil {
		return nil, err
	}
	c := &Cache{
		dir:         o.Dir,
		limit:       o.Limit,
		degradedFor: o.DegradedFor,
		verifyHits:  o.VerifyHits,
		log:         o.Log,
		metrics:     o.Metrics,
		lock:        lock,
		now:         time.Now,
		syncFile:    syncPath,
		entries:     make(map[Key]*entry),
		order:       newFileLFU[digest.Digest](int64(time.Second)),
		fds:         newFDs(),
		pending:     make(map[Key]struct{}),
		files:       make(map[digest.Digest]*cfile),
		held:        make(map[heldKey]int),
		fragile:     make(map[digest.Digest]bool),
		diskBusy:    make(map[digest.Digest]int),
	}
	c.diskCond = sync.NewCond(&c.mu)
	c.direct.Store(!o.BufferedWrites)
	if c.load() {
		// The index names files as a clean shutdown left them; a crash
		// from now on must not find those stamps.
		if err := c.Flush(); err != nil {
			c.untrustAll()
			c.log.Warn("cannot rewrite the cache index: checking every cached block again", slog.Any("err", err))
		}
	}
	if c.metrics != nil {
		c.collector = newCollector(c)
		if err := c.metrics.Register(c.collector); err != nil {
			lock.Close()
			return nil, fmt.Errorf("cache: register metrics: %w", err)
		}
	}
	return c, nil
}

// Contains reports whether k is cached. It does not read the block, so a
// later Get may still find it corrupt; it does not count as a use.
func (c *Cache) Contains(k Key) bool {
	c.mu.Lock()
	defer c.unlock()
	_, ok := c.entries[k]
	return ok && !c.closed
}

// Discard drops every cached block of file d (size bytes), counted as
// corrupt: the caller found the file's content wrong as a whole. Blocks in
// use keep their bytes until released. It returns how many were dropped.
func (c *Cache) Discard(d digest.Digest, size int64) int {
	c.mu.Lock()
	defer c.unlock()
	if c.closed {
		return 0
	}
	n := 0
	for i := range digest.BlockCount(size, digest.BlockSize) {
		if e := c.entries[Key{File: d, Index: i}]; e != nil {
			c.removeLocked(e)
			n++
		}
	}
	c.corrupt.Add(int64(n))
	return n
}

// HoldsFile reports whether any block of file d is cached (or being
// stored).
func (c *Cache) HoldsFile(d digest.Digest) bool {
	c.mu.Lock()
	defer c.unlock()
	return c.files[d] != nil && !c.closed
}

// Stats returns the current state and counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	s := Stats{
		Limit:    c.limit,
		Used:     c.used,
		Blocks:   len(c.entries),
		Files:    len(c.files),
		Degraded: c.now().Before(c.degradedUntil),
	}
	c.unlock()
	s.Hits = c.hits.Load()
	s.Misses = c.misses.Load()
	s.Evictions = c.evictions.Load()
	s.Corrupt = c.corrupt.Load()
	s.DiskErrors = c.diskErrors.Load()
	s.Backings = c.backings.Load()
	s.DirectWrites = c.writes[writeDirect].Load()
	s.BufferedWrites = c.writes[writeBuffered].Load()
	return s
}

// Close waits for the reads in progress, writes the final index (with the
// stamps, see flush), releases the directory and unregisters the metrics.
// Later Gets miss, Puts fail with ErrClosed and Backing says no; files
// handed out before stay readable. Closing twice is a no-op.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.diskCond.Broadcast()
		c.unlock()
		// A read in flight may still find its block bad and discard it;
		// the final index must not list it.
		c.inflight.Wait()
		c.diskWG.Wait()
		err := c.flush(true)
		c.mu.Lock()
		c.dropAllFDsLocked()
		c.unlock()
		if c.collector != nil {
			c.metrics.Unregister(c.collector)
		}
		if cerr := c.lock.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("cache: release lock: %w", cerr)
		}
		c.closeErr = err
	})
	return c.closeErr
}

// untrustAll marks every chunk untrusted.
func (c *Cache) untrustAll() {
	c.mu.Lock()
	defer c.unlock()
	for _, e := range c.entries {
		e.trusted = 0
	}
}
