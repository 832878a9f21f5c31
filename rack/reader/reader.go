package reader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/cache"
	"github.com/bootfs/bootfs/rack/client"
)

// Errors returned by the Reader; test with errors.Is. Errors from regions
// wrap the client package's sentinels (client.ErrUnavailable, ...).
var (
	// ErrClosed is returned by ReadAt after Close.
	ErrClosed = errors.New("reader closed")
	// ErrSizeMismatch: the size the caller gave (from the tree) is not the
	// size the region's block digests describe.
	ErrSizeMismatch = errors.New("file size does not match the region's block digests")
)

// ReaderOptions configure a Reader. Zero values get the documented defaults.
type ReaderOptions struct {
	// Readahead is how many blocks ahead are loaded in the background on
	// sequential access. Default 8; negative disables readahead (so does
	// MaxFetches 1).
	Readahead int
	// MaxFetches bounds concurrent block fetches from regions. Default 16.
	MaxFetches int
	// MemoryBlocks is how many verified blocks are kept in memory (1 MiB
	// each). Default 2*Readahead; at least Readahead+2 and 4.
	MemoryBlocks int
	// VerifyCacheHits checks the sha256 of every block read from the
	// BlockCache (one sha256 per MiB loaded from disk) instead of trusting
	// the cache's own integrity checks.
	VerifyCacheHits bool
	// Digests, if set, keeps the block digest list of every file read on
	// disk and is asked before the regions, so that cached files stay
	// readable after a restart while no region answers.
	Digests *DigestStore
	// Log receives cache write failures and readahead errors. nil discards.
	Log *slog.Logger
	// Metrics, if set, registers the Reader's counters (bootfs_rack_reader_*).
	Metrics prometheus.Registerer
}

// Reader serves byte ranges of boot files, verified block by block, from
// memory, the block cache or the regions. It is safe for concurrent use.
type Reader struct {
	cache      BlockCache
	cl         *client.Client
	log        *slog.Logger
	readahead  int
	maxFetches int
	verifyHits bool

	sem     *semaphore.Weighted // every fetch from a region holds one
	raSem   *semaphore.Weighted // readahead loads also hold one of these
	flights singleflight.Group  // block loads, by flightKey
	mem     *memory

	ctx    context.Context // ends at Close; block loads run under it
	cancel context.CancelFunc

	// mu guards closed, seq and the state of every seqState in it. Work
	// is added to wg only under mu and while not closed.
	mu     sync.Mutex
	closed bool
	seq    *lru.Cache[digest.Digest, *seqState]
	wg     sync.WaitGroup // block loads and readahead goroutines

	// holdersMu guards holders.
	holdersMu sync.RWMutex
	holders   map[digest.Digest][]string

	// store (may be nil) and known (lists from the store or a region)
	// back blockDigests.
	store *DigestStore
	known *lru.Cache[digest.Digest, *wire.BlockDigests]

	// wholeMu guards whole, badLists and unverified: the whole-file checks done
	// (whole.go) and, for a bad file, the sum of the list it failed with.
	wholeMu      sync.Mutex
	whole        map[digest.Digest]wholeResult
	badLists     map[digest.Digest]digest.Digest
	unverified   map[digest.Digest]bool // files whose stored check record was cleared
	wholeFlights singleflight.Group     // whole-file checks, by file

	// failMu guards failed: files whose block digest list no region
	// could serve a moment ago (whole.go).
	failMu sync.Mutex
	failed map[digest.Digest]digestFailure

	st         counters
	putFailing atomic.Bool // the last cache Put failed
}

// NewReader returns a Reader that caches blocks in c and fetches them with
// cl. Call Close when done.
func NewReader(c BlockCache, cl *client.Client, o ReaderOptions) *Reader {
	if o.Readahead == 0 {
		o.Readahead = 8
	}
	o.Readahead = max(o.Readahead, 0)
	if o.MaxFetches <= 0 {
		o.MaxFetches = 16
	}
	if o.MemoryBlocks <= 0 {
		o.MemoryBlocks = 2 * o.Readahead
	}
	// Room for the block being read and the window ahead of it.
	o.MemoryBlocks = max(o.MemoryBlocks, o.Readahead+2, 4)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	// Readahead may hold all fetch slots but a quarter (at least one), so
	// that a foreground load that readahead waits on can always get one.
	raSlots := o.MaxFetches - max(o.MaxFetches/4, 1)
	if raSlots <= 0 {
		o.Readahead = 0
		raSlots = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	seq, _ := lru.New[digest.Digest, *seqState](4096) // fails only for size <= 0
	known, _ := lru.New[digest.Digest, *wire.BlockDigests](1024)
	r := &Reader{
		cache:      c,
		cl:         cl,
		log:        o.Log,
		readahead:  o.Readahead,
		maxFetches: o.MaxFetches,
		verifyHits: o.VerifyCacheHits,
		sem:        semaphore.NewWeighted(int64(o.MaxFetches)),
		raSem:      semaphore.NewWeighted(int64(raSlots)),
		mem:        newMemory(o.MemoryBlocks),
		ctx:        ctx,
		cancel:     cancel,
		seq:        seq,
		store:      o.Digests,
		known:      known,
		whole:      make(map[digest.Digest]wholeResult),
		badLists:   make(map[digest.Digest]digest.Digest),
		unverified: make(map[digest.Digest]bool),
		failed:     make(map[digest.Digest]digestFailure),
	}
	if o.Metrics != nil {
		if err := o.Metrics.Register(&collector{r: r}); err != nil {
			r.log.Warn("reader metrics not registered", "err", err)
		}
	}
	return r
}

// file is what a read needs to know about the file it reads.
type file struct {
	d       digest.Digest
	size    int64
	bd      *wire.BlockDigests
	holders []string
}

// blockLen returns the length of block i.
func (f *file) blockLen(i int64) int {
	return int(min(digest.BlockSize, f.size-i*digest.BlockSize))
}

// ReadAt fills p with the bytes of file d (size bytes long, as the tree
// says) from offset off. It returns n < len(p) only with an error: io.EOF
// when the file ends, or the error of the first block that could not be
// read (then p[:n] holds the bytes before that block). Only verified bytes
// are ever written to p. ctx bounds the wait; a block load started for it
// carries on in the background (and serves later reads) if ctx ends.
func (r *Reader) ReadAt(ctx context.Context, d digest.Digest, size int64, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset %d", d.Short(12), off)
	}
	if off >= size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	f, err := r.file(ctx, d, size)
	if err != nil {
		return 0, err
	}
	end := min(off+int64(len(p)), size)
	r.noteRead(f, off, end)

	first, last := off/digest.BlockSize, (end-1)/digest.BlockSize
	var n int
	if first == last {
		err = r.copyBlock(ctx, f, first, p, off, end)
		if err == nil {
			n = int(end - off)
		}
	} else {
		n, err = r.copyBlocks(ctx, f, first, last, p, off, end)
	}
	if err != nil {
		return n, fmt.Errorf("read %s at %d: %w", d.Short(12), off, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// file returns what a read of file d (size bytes) needs: its block digest
// list, checked against size, unless the file is known to be bad.
func (r *Reader) file(ctx context.Context, d digest.Digest, size int64) (*file, error) {
	if r.ctx.Err() != nil {
		return nil, ErrClosed
	}
	bd, err := r.blockDigests(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.Short(12), err)
	}
	if err := r.badFile(d, bd); err != nil {
		return nil, fmt.Errorf("read %s: %w", d.Short(12), err)
	}
	if bd.Size != size {
		return nil, fmt.Errorf("read %s: %w: %d bytes, regions say %d", d.Short(12), ErrSizeMismatch, size, bd.Size)
	}
	return &file{d: d, size: size, bd: bd, holders: r.holdersOf(d)}, nil
}

// copyBlock copies the part of block i that lies in [pOff, end) into p,
// which holds the file's bytes from offset pOff on.
func (r *Reader) copyBlock(ctx context.Context, f *file, i int64, p []byte, pOff, end int64) error {
	lo := max(i*digest.BlockSize, pOff)
	hi := min((i+1)*digest.BlockSize, end)
	dst := p[lo-pOff : hi-pOff]
	if r.readPart(f, i, dst, lo-i*digest.BlockSize) {
		return nil
	}
	b, err := r.foreground(ctx, f, i)
	if err != nil {
		return err
	}
	defer r.mem.release(b)
	copy(dst, b.Value.bytes()[lo-i*digest.BlockSize:])
	return nil
}

// readPart serves part of block i straight from the disk cache when the
// block is not in memory and the cache can read parts of blocks (and the
// Reader trusts its hits). It reports whether dst was filled.
func (r *Reader) readPart(f *file, i int64, dst []byte, off int64) bool {
	rr, ok := r.cache.(rangeReader)
	if !ok || r.verifyHits || len(dst) == f.blockLen(i) {
		return false
	}
	k := cache.Key{File: f.d, Index: i}
	if r.mem.has(k) {
		return false
	}
	if n, ok := rr.ReadAt(k, dst, off); !ok || n != len(dst) {
		clear(dst) // whatever a failed read left there is not verified
		return false
	}
	r.st.hits.Add(1)
	return true
}

// copyBlocks reads blocks first..last in parallel (at most MaxFetches at a
// time) and returns the bytes copied before the first block that failed.
func (r *Reader) copyBlocks(ctx context.Context, f *file, first, last int64, p []byte, pOff, end int64) (int, error) {
	errs := make([]error, last-first+1)
	var g errgroup.Group
	g.SetLimit(r.maxFetches)
	for i := first; i <= last; i++ {
		g.Go(func() error {
			errs[i-first] = r.copyBlock(ctx, f, i, p, pOff, end)
			return nil
		})
	}
	g.Wait()
	for k, err := range errs {
		if err != nil {
			return int(max((first+int64(k))*digest.BlockSize, pOff) - pOff), err
		}
	}
	return int(end - pOff), nil
}

// Backing hands out a local file holding every verified byte of file d
// (size bytes), for the kernel to read directly (FUSE passthrough): the
// block cache's content file, when the cache holds every block of d and
// can hand files out (see cache.Cache.Backing). ok is false otherwise, and
// always with ReaderOptions.VerifyCacheHits, which asks for a sha256 check
// of every block read from the disk. The bytes stay until release.
//
// A file is handed out only once its whole content was found to hash to d
// (checkWhole: once per file per process, the first hand-over waiting for
// it, or once ever while the cache's stamps vouch for the file): blocks are
// verified against the regions' block digest list, and only this check
// catches a list that describes other bytes. A file that fails is never
// handed out, and its reads fail with ErrBadFile.
func (r *Reader) Backing(ctx context.Context, d digest.Digest, size int64) (fd int, release func(), ok bool) {
	b, can := r.cache.(backer)
	if !can || r.verifyHits || r.ctx.Err() != nil {
		return -1, nil, false
	}
	if r.wholeState(d) == wholeBad {
		return -1, nil, false
	}
	fd, release, ok, trusted := b.BackingTrusted(d, size)
	if !ok {
		return -1, nil, false
	}
	if !r.checkWhole(ctx, d, size, fd, trusted) {
		release()
		return -1, nil, false
	}
	return fd, release, true
}

// SetHolders sets which region URLs hold each file (see Holders); they are
// asked first. Files not in m have no preference. m is copied.
func (r *Reader) SetHolders(m map[digest.Digest][]string) {
	m = maps.Clone(m)
	r.holdersMu.Lock()
	defer r.holdersMu.Unlock()
	r.holders = m
}

func (r *Reader) holdersOf(d digest.Digest) []string {
	r.holdersMu.RLock()
	defer r.holdersMu.RUnlock()
	return r.holders[d]
}

// Close stops readahead, waits for the block loads in progress and frees
// the blocks held in memory. Reads after Close fail with ErrClosed. It
// closes neither the cache nor the client.
func (r *Reader) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	r.mem.clear()
	return nil
}

// track registers one piece of background work; false after Close.
func (r *Reader) track() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.wg.Add(1)
	return true
}
