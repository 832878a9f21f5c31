// Package cachetest is the conformance suite of the rack's block cache
// contract (rack.BlockCache), in the style of perkeep's storagetest: every
// implementation — the on-disk *cache.Cache, the in-memory caches tests use
// — runs the same tests, so a fake cannot pass where the real one would
// fail, nor the other way round.
//
// The contract: Get copies block k into buf (digest.BlockSize bytes) and
// returns its length, or ok=false on a miss; it returns only bytes that
// were Put for k, intact, never another key's, never a torn or partial
// block. Put stores a copy of data (the caller may reuse data at once).
// Both are safe for concurrent use. A cache may forget (evict, discard,
// store nothing): a miss is always allowed unless Options.Retains says the
// cache keeps what it was given.
//
// The package imports neither rack nor anything it imports besides
// rack/cache and internal/digest, so package rack's own tests can use it.
package cachetest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/cache"
)

// BlockCache is rack.BlockCache (repeated here to avoid an import cycle).
type BlockCache interface {
	Get(k cache.Key, buf []byte) (n int, ok bool)
	Put(k cache.Key, data []byte) error
}

// rangeReader is the optional partial read (*cache.Cache has it); its
// contract is Get's for bytes [off, off+len(p)) of the block.
type rangeReader interface {
	ReadAt(k cache.Key, p []byte, off int64) (n int, ok bool)
}

// Options describe the implementation under test.
type Options struct {
	// Retains: a block Put (without error) is then served by Get, as
	// long as no more than MinBlocks blocks were put since. False for a
	// cache that may store nothing.
	Retains bool
	// MinBlocks is how many full blocks the cache holds at least (at
	// least 8 when Retains; 8 when 0).
	MinBlocks int
	// Reopen, if set, closes the cache and opens it again on the same
	// storage; what survives must still be served intact (or missed).
	Reopen func(t *testing.T, c BlockCache) BlockCache
}

// Key returns a test key for a named file and block index.
func Key(name string, index int64) cache.Key {
	return cache.Key{File: digest.Of([]byte(name)), Index: index}
}

// Block returns size deterministic bytes that differ for every key and
// generation (so that a swapped, stale or torn block is seen).
func Block(k cache.Key, gen uint64, size int) []byte {
	r := rand.New(rand.NewPCG(uint64(k.File[0])<<56|uint64(k.File[1])<<48|uint64(k.Index), gen))
	b := make([]byte, size)
	for i := 0; i < size; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < size; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// Test runs the suite against caches made by newCache, one per subtest.
func Test(t *testing.T, newCache func(t *testing.T) BlockCache, o Options) {
	if o.MinBlocks == 0 {
		o.MinBlocks = 8
	}
	if o.Retains && o.MinBlocks < 8 {
		t.Fatalf("cachetest: a retaining cache must hold at least 8 blocks, MinBlocks is %d", o.MinBlocks)
	}
	s := &suite{o: o, newCache: newCache}
	t.Run("Miss", s.miss)
	t.Run("PutGet", s.putGet)
	t.Run("PutCopies", s.putCopies)
	t.Run("KeysApart", s.keysApart)
	t.Run("PutTwice", s.putTwice)
	if _, ok := newCache(t).(rangeReader); ok {
		t.Run("ReadAt", s.readAt)
	}
	t.Run("Concurrent", s.concurrent)
	if o.Reopen != nil {
		t.Run("Reopen", s.reopen)
	}
}

type suite struct {
	o        Options
	newCache func(t *testing.T) BlockCache
}

// check gets k from c and fails if a hit is not exactly want; it fails a
// miss too when mustHit.
func check(t *testing.T, c BlockCache, k cache.Key, want []byte, mustHit bool) bool {
	t.Helper()
	buf := make([]byte, digest.BlockSize)
	for i := range buf {
		buf[i] = 0xa5
	}
	n, ok := c.Get(k, buf)
	if !ok {
		if mustHit {
			t.Errorf("Get(%v): miss right after a successful Put", k)
		}
		return false
	}
	if n != len(want) || !bytes.Equal(buf[:n], want) {
		t.Errorf("Get(%v) = %d bytes (first diff at %d), want the %d bytes put", k, n, firstDiff(buf[:max(n, 0)], want), len(want))
	}
	return true
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func put(t *testing.T, c BlockCache, k cache.Key, data []byte) bool {
	t.Helper()
	if err := c.Put(k, data); err != nil {
		t.Logf("Put(%v, %d bytes): %v", k, len(data), err)
		return false
	}
	return true
}

func (s *suite) miss(t *testing.T) {
	c := s.newCache(t)
	buf := make([]byte, digest.BlockSize)
	if n, ok := c.Get(Key("never", 0), buf); ok {
		t.Fatalf("Get of a block never put: hit of %d bytes", n)
	}
}

func (s *suite) putGet(t *testing.T) {
	c := s.newCache(t)
	// A full block, a last short block, one byte, a chunk and a bit.
	for i, size := range []int{digest.BlockSize, 123_457, 1, 64<<10 + 1} {
		k := Key("putget", int64(i))
		data := Block(k, 1, size)
		ok := put(t, c, k, data)
		if s.o.Retains && !ok {
			t.Fatalf("Put(%v) of %d bytes failed on a retaining cache", k, size)
		}
		check(t, c, k, data, s.o.Retains && ok)
		check(t, c, k, data, s.o.Retains && ok) // a hit stays a hit
	}
}

func (s *suite) putCopies(t *testing.T) {
	c := s.newCache(t)
	k := Key("copies", 3)
	data := Block(k, 1, 200_000)
	want := bytes.Clone(data)
	ok := put(t, c, k, data)
	for i := range data {
		data[i] ^= 0xff // the caller reuses its buffer
	}
	check(t, c, k, want, s.o.Retains && ok)
}

func (s *suite) keysApart(t *testing.T) {
	c := s.newCache(t)
	keys := []cache.Key{Key("a", 0), Key("a", 1), Key("b", 0), Key("b", 1), {File: Key("a", 0).File, Index: 1 << 15}} // 32 GiB into the file
	data := map[cache.Key][]byte{}
	for i, k := range keys {
		data[k] = Block(k, 1, 70_000+i)
		if !put(t, c, k, data[k]) && s.o.Retains {
			t.Fatalf("Put(%v) failed on a retaining cache", k)
		}
	}
	for _, k := range keys {
		check(t, c, k, data[k], s.o.Retains)
	}
	if n, ok := c.Get(Key("a", 2), make([]byte, digest.BlockSize)); ok {
		t.Errorf("Get of a neighbour never put: hit of %d bytes", n)
	}
}

// putTwice: the Reader may Put a block again (after a miss on a corrupt
// entry, or in a race); what is served is one whole copy, never a mix.
func (s *suite) putTwice(t *testing.T) {
	c := s.newCache(t)
	k := Key("twice", 0)
	data := Block(k, 1, digest.BlockSize)
	put(t, c, k, data)
	ok := put(t, c, k, data)
	check(t, c, k, data, s.o.Retains && ok)
}

func (s *suite) readAt(t *testing.T) {
	c := s.newCache(t)
	rr := c.(rangeReader)
	k := Key("readat", 0)
	data := Block(k, 1, 300_001)
	ok := put(t, c, k, data)
	for _, r := range [][2]int64{{0, 1}, {0, 300_001}, {65535, 2}, {131072, 65536}, {300_000, 10}, {299_990, 11}, {300_001, 5}} {
		off, n := r[0], r[1]
		p := make([]byte, n)
		got, hit := rr.ReadAt(k, p, off)
		if !hit {
			if s.o.Retains && ok {
				t.Errorf("ReadAt(%v, %d bytes at %d): miss right after a Put", k, n, off)
			}
			continue
		}
		want := data[min(off, int64(len(data))):min(off+n, int64(len(data)))]
		if got != len(want) || !bytes.Equal(p[:got], want) {
			t.Errorf("ReadAt(%v, %d bytes at %d) = %d bytes, want %d bytes of the block", k, n, off, got, len(want))
		}
	}
	for _, off := range []int64{-1, 300_002} {
		if n, hit := rr.ReadAt(k, make([]byte, 10), off); hit {
			t.Errorf("ReadAt at %d, outside the block: hit of %d bytes", off, n)
		}
	}
}

// concurrent: many goroutines put and get overlapping keys (more than the
// cache holds); every hit is exactly the bytes put for that key.
func (s *suite) concurrent(t *testing.T) {
	c := s.newCache(t)
	keys := make([]cache.Key, 2*s.o.MinBlocks+3)
	for i := range keys {
		keys[i] = Key(fmt.Sprintf("conc%d", i%5), int64(i))
	}
	size := func(k cache.Key) int { return int(k.Index%3)*300_000 + 4096 }
	var wg sync.WaitGroup
	var mu sync.Mutex // guards bad
	var bad []string
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, digest.BlockSize)
			for i := range 40 {
				k := keys[(g*7+i*3)%len(keys)]
				want := Block(k, 1, size(k))
				if i%2 == 0 {
					_ = c.Put(k, want)
					continue
				}
				if n, ok := c.Get(k, buf); ok && (n != len(want) || !bytes.Equal(buf[:n], want)) {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("Get(%v) = %d bytes, not the %d put", k, n, len(want)))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for _, b := range bad {
		t.Error(b)
	}
}

func (s *suite) reopen(t *testing.T) {
	c := s.newCache(t)
	data := map[cache.Key][]byte{}
	for i := range s.o.MinBlocks / 2 {
		k := Key("reopen", int64(i))
		data[k] = Block(k, 1, 100_000*(i+1))
		put(t, c, k, data[k])
	}
	c = s.o.Reopen(t, c)
	for k, want := range data {
		check(t, c, k, want, false)
	}
	// Put again after the reopen: served intact.
	k := Key("reopen", 0)
	ok := put(t, c, k, data[k])
	check(t, c, k, data[k], s.o.Retains && ok)
}
