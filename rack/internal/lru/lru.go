// Package lru is the rack's one LRU of reference-counted values, bounded by
// a count. The block reader keeps its verified blocks in memory with it
// (rack/reader), and the block cache its open content file descriptors
// (rack/cache).
//
// An entry in the LRU holds one reference on itself; every user that
// acquires it holds another. Evicting or removing an entry drops the LRU's
// reference, not the users': the value is freed (the free function given to
// New is called) when the last reference goes, so a value is never freed
// while someone still uses it, and an evicted entry cannot be acquired
// again.
//
// An LRU is not safe for concurrent use: its owner guards it, and every
// entry it returned, with a lock of its own.
package lru

import "container/list"

// LRU is a count-bounded LRU of reference-counted values.
type LRU[K comparable, V any] struct {
	max  int
	free func(K, V)
	m    map[K]*Entry[K, V]
	ll   list.List // of *Entry; front is the most recently used
}

// Entry is one value of an LRU. Its Key and Value never change; Value is
// valid while holding a reference.
type Entry[K comparable, V any] struct {
	Key   K
	Value V
	refs  int           // the LRU's (while in it) and its users'
	elem  *list.Element // position in the LRU; nil when not in it
}

// New returns an empty LRU keeping at most n entries (at least 1). free is
// called with each entry's key and value once its last reference is
// dropped.
func New[K comparable, V any](n int, free func(K, V)) *LRU[K, V] {
	return &LRU[K, V]{max: max(n, 1), free: free, m: make(map[K]*Entry[K, V])}
}

// SetMax changes the bound; the next Add trims to it.
func (l *LRU[K, V]) SetMax(n int) { l.max = max(n, 1) }

// Len returns the number of entries in the LRU.
func (l *LRU[K, V]) Len() int { return l.ll.Len() }

// Peek returns the entry of k without acquiring it or marking it used, or
// nil.
func (l *LRU[K, V]) Peek(k K) *Entry[K, V] { return l.m[k] }

// Get returns the entry of k acquired and marks it most recently used, or
// nil.
func (l *LRU[K, V]) Get(k K) *Entry[K, V] {
	e := l.m[k]
	if e == nil {
		return nil
	}
	e.refs++
	l.ll.MoveToFront(e.elem)
	return e
}

// Add adds v as the value of k, most recently used, evicting the least
// recently used entries beyond the bound, and returns its entry, not
// acquired (see Acquire), and true. If k is already in the LRU it marks
// that entry used and returns it and false: v is left to the caller.
func (l *LRU[K, V]) Add(k K, v V) (*Entry[K, V], bool) {
	if old := l.m[k]; old != nil {
		l.ll.MoveToFront(old.elem)
		return old, false
	}
	e := &Entry[K, V]{Key: k, Value: v, refs: 1}
	e.elem = l.ll.PushFront(e)
	l.m[k] = e
	for l.ll.Len() > l.max {
		l.removeEntry(l.ll.Back().Value.(*Entry[K, V]))
	}
	return e, true
}

// Acquire takes a reference on e, which Add or Peek returned, and marks it
// used if it is still in the LRU. It fails if e has been freed since.
func (l *LRU[K, V]) Acquire(e *Entry[K, V]) bool {
	if e.refs == 0 {
		return false
	}
	e.refs++
	if e.elem != nil {
		l.ll.MoveToFront(e.elem)
	}
	return true
}

// Release drops a reference taken by Get or Acquire, freeing the value if
// it was the last.
func (l *LRU[K, V]) Release(e *Entry[K, V]) {
	if e.refs--; e.refs == 0 {
		l.free(e.Key, e.Value)
	}
}

// Remove takes the entry of k out of the LRU; its value is freed now if no
// one holds it, else at its last Release. It reports whether k was in the
// LRU.
func (l *LRU[K, V]) Remove(k K) bool {
	e := l.m[k]
	if e == nil {
		return false
	}
	l.removeEntry(e)
	return true
}

// Clear removes every entry, least recently used first.
func (l *LRU[K, V]) Clear() {
	for l.ll.Len() > 0 {
		l.removeEntry(l.ll.Back().Value.(*Entry[K, V]))
	}
}

func (l *LRU[K, V]) removeEntry(e *Entry[K, V]) {
	l.ll.Remove(e.elem)
	e.elem = nil
	delete(l.m, e.Key)
	l.Release(e)
}
