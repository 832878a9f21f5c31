package reader

import (
	"sync"
	"sync/atomic"

	"github.com/bootfs/bootfs/rack/cache"
	"github.com/bootfs/bootfs/rack/internal/lru"
)

// getBuf takes a block buffer (blockbuf.go), counting it as out.
func (m *memory) getBuf() *[]byte {
	m.out.Add(1)
	return blockBufs.get()
}

// putBuf returns a buffer taken by getBuf.
func (m *memory) putBuf(b *[]byte) {
	m.out.Add(-1)
	blockBufs.put(b)
}

// block is one verified block held in memory, an entry of memory's LRU.
// Its bytes never change while it is alive; its buffer returns to the pool
// when the LRU and every reader that acquired it have let go.
type block = lru.Entry[cache.Key, blockBuf]

// blockBuf is the content of a block: n verified bytes in buf.
type blockBuf struct {
	buf *[]byte
	n   int
}

// bytes returns the block's content. Only valid while holding a reference.
func (b blockBuf) bytes() []byte { return (*b.buf)[:b.n] }

// memory is a small LRU of verified blocks, bounded by a block count.
type memory struct {
	out atomic.Int64 // buffers taken by getBuf and not yet put back

	mu  sync.Mutex // guards lru and the blocks it returned
	lru *lru.LRU[cache.Key, blockBuf]
}

func newMemory(max int) *memory {
	m := &memory{}
	m.lru = lru.New(max, func(_ cache.Key, b blockBuf) { m.putBuf(b.buf) })
	return m
}

// get returns block k acquired, or nil.
func (m *memory) get(k cache.Key) *block {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Get(k)
}

// has reports whether block k is in memory.
func (m *memory) has(k cache.Key) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Peek(k) != nil
}

// peek returns block k without acquiring it, or nil.
func (m *memory) peek(k cache.Key) *block {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Peek(k)
}

// insert adds the n verified bytes in buf as block k, evicting the least
// recently used blocks beyond the bound, and returns it (not acquired; see
// acquire). buf now belongs to memory.
func (m *memory) insert(k cache.Key, buf *[]byte, n int) *block {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, added := m.lru.Add(k, blockBuf{buf: buf, n: n})
	if !added {
		// Cannot happen while loads are singleflighted; keep the first.
		m.putBuf(buf)
	}
	return b
}

// acquire takes a reference on b, which insert or peek returned. It fails if
// b has been evicted and freed since.
func (m *memory) acquire(b *block) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Acquire(b)
}

// release drops a reference taken by get or acquire.
func (m *memory) release(b *block) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Release(b)
}

// clear drops every block from the LRU; those still acquired are freed by
// their last release.
func (m *memory) clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Clear()
}

// len returns the number of blocks in the LRU.
func (m *memory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}
