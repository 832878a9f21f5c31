package cache

import (
	"cmp"
	"slices"
)

// The eviction order is a least-frequently-deployed-file policy (fileLFU),
// chosen by TestPolicyTrace over plain LRU, segmented LRU and S3-FIFO (see
// docs/benchmarks.md): machines read whole files in order, so a block's
// reuse distance is the bytes of everything booted between two boots of its
// file, usually more than the cache, and every block-granular policy keeps
// the wrong blocks. fileLFU counts how often each file is read from its
// first block and evicts blocks of the least often read file first (ties:
// the file read least recently), its last blocks first, so the cache holds
// the most popular files whole and a prefix of the next. A file read once,
// or an image larger than the cache, is then the first victim of its own
// reads instead of flushing the files every machine boots.
//
// Uses of block 0 within window of the previous counted one are one read
// (the kernel reads a block in pieces; one boot reads it several times), and
// counts halve when their sum grows past agePer per file tracked, so a new
// release overtakes an old one. Files without blocks are remembered (their
// count) up to maxGhosts.
//
// It is a pure structure over nodes with byte sizes; the caller keeps one
// node per block and decides what is pinned. Not safe for concurrent use.

const (
	agePer    = 16
	maxGhosts = 4096
)

// lfuNode is one block's place in the order.
type lfuNode[F comparable] struct {
	idx   int64
	size  int64
	file  *lfuFile[F]
	owner any
}

type lfuFile[F comparable] struct {
	id     F
	freq   int64
	last   int64 // clock of the latest use of any block
	bumped int64 // clock of the latest counted read
	hi     int64 // no block has a larger index
	blocks map[int64]*lfuNode[F]
}

// fileLFU is the eviction order; see above.
type fileLFU[F comparable] struct {
	files  map[F]*lfuFile[F]
	n      int
	window int64
	sum    int64 // counted reads since the last halving
}

func newFileLFU[F comparable](window int64) *fileLFU[F] {
	return &fileLFU[F]{files: make(map[F]*lfuFile[F]), window: window}
}

// len returns how many nodes the order holds.
func (p *fileLFU[F]) len() int { return p.n }

// insert adds block idx of file id, not in the order, used at clock now.
func (p *fileLFU[F]) insert(id F, idx, size int64, owner any, now int64) *lfuNode[F] {
	f := p.files[id]
	if f == nil {
		f = &lfuFile[F]{id: id, bumped: now - p.window, blocks: make(map[int64]*lfuNode[F])}
		p.files[id] = f
		if len(p.files) > maxGhosts {
			p.forget()
		}
	}
	n := &lfuNode[F]{idx: idx, size: size, file: f, owner: owner}
	f.blocks[idx] = n
	f.hi = max(f.hi, idx)
	p.n++
	p.touch(n, now)
	return n
}

// touch records a use of n at clock now.
func (p *fileLFU[F]) touch(n *lfuNode[F], now int64) {
	f := n.file
	f.last = max(f.last, now)
	if n.idx != 0 || now-f.bumped < p.window {
		return
	}
	f.freq++
	f.bumped = now
	if p.sum++; p.sum > agePer*int64(len(p.files)) {
		for _, g := range p.files {
			g.freq /= 2
		}
		p.sum = 0
	}
}

// remove drops n from the order. Its file's count is remembered.
func (p *fileLFU[F]) remove(n *lfuNode[F]) {
	if n.file.blocks[n.idx] == n {
		f := n.file
		delete(f.blocks, n.idx)
		p.n--
		for f.hi > 0 && f.blocks[f.hi] == nil && len(f.blocks) > 0 {
			f.hi--
		}
	}
}

// forget drops the record of the file without blocks used least recently.
func (p *fileLFU[F]) forget() {
	var old *lfuFile[F]
	for _, f := range p.files {
		if len(f.blocks) == 0 && (old == nil || f.last < old.last) {
			old = f
		}
	}
	if old != nil {
		delete(p.files, old.id)
	}
}

// each calls fn for every node in eviction order (the next victim first)
// until fn returns false. fn may remove any nodes.
func (p *fileLFU[F]) each(fn func(*lfuNode[F]) bool) {
	fs := make([]*lfuFile[F], 0, len(p.files))
	for _, f := range p.files {
		if len(f.blocks) > 0 {
			fs = append(fs, f)
		}
	}
	slices.SortFunc(fs, func(a, b *lfuFile[F]) int {
		return cmp.Or(cmp.Compare(a.freq, b.freq), cmp.Compare(a.last, b.last))
	})
	for _, f := range fs {
		for i := f.hi; i >= 0 && len(f.blocks) > 0; i-- {
			if n := f.blocks[i]; n != nil && !fn(n) {
				return
			}
		}
	}
}
