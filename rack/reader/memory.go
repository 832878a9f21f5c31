package reader

import (
	"container/list"
	"sync"
	"sync/atomic"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/cache"
)

// bufPool recycles digest.BlockSize buffers (as *[]byte, so that Put does
// not allocate).
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, digest.BlockSize)
	return &b
}}

// getBuf takes a buffer from the pool, counting it as out.
func (m *memory) getBuf() *[]byte {
	m.out.Add(1)
	return bufPool.Get().(*[]byte)
}

// putBuf returns a buffer to the pool.
func (m *memory) putBuf(b *[]byte) {
	m.out.Add(-1)
	bufPool.Put(b)
}

// block is one verified block held in memory. Its bytes never change while
// it is alive. refs counts the memory LRU (while the block is in it) and
// every reader that acquired it; the buffer returns to the pool when refs
// reaches zero. refs and elem are guarded by memory.mu.
type block struct {
	key  cache.Key
	buf  *[]byte // nil once freed
	n    int
	refs int
	elem *list.Element // position in memory.lru; nil when not in it
}

// bytes returns the block's content. Only valid while holding a reference.
func (b *block) bytes() []byte { return (*b.buf)[:b.n] }

// memory is a small LRU of verified blocks, bounded by a block count.
type memory struct {
	max int
	out atomic.Int64 // buffers taken by getBuf and not yet put back

	// mu guards m, lru and the refs and elem of every block.
	mu  sync.Mutex
	m   map[cache.Key]*block
	lru *list.List // of *block, most recently used first
}

func newMemory(max int) *memory {
	return &memory{max: max, m: make(map[cache.Key]*block), lru: list.New()}
}

// get returns block k acquired, or nil.
func (m *memory) get(k cache.Key) *block {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.m[k]
	if b == nil {
		return nil
	}
	b.refs++
	m.lru.MoveToFront(b.elem)
	return b
}

// has reports whether block k is in memory.
func (m *memory) has(k cache.Key) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[k] != nil
}

// peek returns block k without acquiring it, or nil.
func (m *memory) peek(k cache.Key) *block {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[k]
}

// insert adds the n verified bytes in buf as block k, evicting the least
// recently used blocks beyond the bound, and returns it (not acquired; see
// acquire). buf now belongs to memory.
func (m *memory) insert(k cache.Key, buf *[]byte, n int) *block {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.m[k]; old != nil {
		// Cannot happen while loads are singleflighted; keep the first.
		m.putBuf(buf)
		m.lru.MoveToFront(old.elem)
		return old
	}
	b := &block{key: k, buf: buf, n: n, refs: 1}
	b.elem = m.lru.PushFront(b)
	m.m[k] = b
	for m.lru.Len() > m.max {
		old := m.lru.Remove(m.lru.Back()).(*block)
		old.elem = nil
		delete(m.m, old.key)
		m.unrefLocked(old)
	}
	return b
}

// acquire takes a reference on b, which insert or peek returned. It fails if
// b has been evicted and freed since.
func (m *memory) acquire(b *block) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b.refs == 0 {
		return false
	}
	b.refs++
	if b.elem != nil {
		m.lru.MoveToFront(b.elem)
	}
	return true
}

// release drops a reference taken by get or acquire.
func (m *memory) release(b *block) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unrefLocked(b)
}

func (m *memory) unrefLocked(b *block) {
	b.refs--
	if b.refs == 0 {
		m.putBuf(b.buf)
		b.buf = nil
	}
}

// clear drops every block from the LRU; those still acquired are freed by
// their last release.
func (m *memory) clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.lru.Len() > 0 {
		b := m.lru.Remove(m.lru.Back()).(*block)
		b.elem = nil
		delete(m.m, b.key)
		m.unrefLocked(b)
	}
}

// len returns the number of blocks in the LRU.
func (m *memory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}
