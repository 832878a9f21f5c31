package lru

import (
	"slices"
	"testing"
)

// rig is an LRU of ints whose freed values are recorded.
type rig struct {
	*LRU[string, int]
	freed []int
}

func newRig(n int) *rig {
	r := &rig{}
	r.LRU = New(n, func(_ string, v int) { r.freed = append(r.freed, v) })
	return r
}

func (r *rig) wantFreed(t *testing.T, want ...int) {
	t.Helper()
	if !slices.Equal(r.freed, want) {
		t.Fatalf("freed %v, want %v", r.freed, want)
	}
}

// TestEvictionOrder checks that the least recently used entry goes first,
// and that Get and Acquire count as a use and Peek does not.
func TestEvictionOrder(t *testing.T) {
	r := newRig(3)
	a, _ := r.Add("a", 1)
	r.Add("b", 2)
	r.Add("c", 3)
	e := r.Get("a") // a is now the most recently used: b goes first
	r.Release(e)
	r.Peek("b") // not a use
	r.Add("d", 4)
	r.wantFreed(t, 2)
	if !r.Acquire(a) { // a use: c goes next
		t.Fatal("Acquire of a live entry failed")
	}
	r.Release(a)
	r.Add("e", 5)
	r.wantFreed(t, 2, 3)
	if r.Len() != 3 || r.Peek("b") != nil || r.Peek("c") != nil || r.Peek("a") == nil {
		t.Fatalf("Len %d; b, c, a present: %v %v %v", r.Len(), r.Peek("b") != nil, r.Peek("c") != nil, r.Peek("a") != nil)
	}
}

// TestHeldEntryOutlivesEviction checks that an evicted or removed entry
// still acquired is freed only at its last Release, cannot be acquired
// again, and is no longer found.
func TestHeldEntryOutlivesEviction(t *testing.T) {
	r := newRig(1)
	a, _ := r.Add("a", 1)
	for range 2 {
		if !r.Acquire(a) {
			t.Fatal("Acquire of a live entry failed")
		}
	}
	r.Add("b", 2) // evicts a, held twice
	r.wantFreed(t)
	if r.Get("a") != nil {
		t.Fatal("evicted entry found by Get")
	}
	r.Release(a)
	r.wantFreed(t)
	if !r.Acquire(a) { // still alive: one reference left
		t.Fatal("Acquire of an evicted but held entry failed")
	}
	r.Release(a)
	r.Release(a)
	r.wantFreed(t, 1)
	if r.Acquire(a) {
		t.Fatal("Acquire of a freed entry succeeded")
	}

	b := r.Get("b")
	if !r.Remove("b") || r.Remove("b") {
		t.Fatal("Remove: want true then false")
	}
	r.wantFreed(t, 1)
	if b.Value != 2 {
		t.Fatalf("held value %d, want 2", b.Value)
	}
	r.Release(b)
	r.wantFreed(t, 1, 2)
}

// TestAddExisting checks that adding a key already present keeps the first
// value and leaves the second to the caller.
func TestAddExisting(t *testing.T) {
	r := newRig(2)
	first, added := r.Add("a", 1)
	if !added {
		t.Fatal("first Add: added false")
	}
	r.Add("b", 2)
	got, added := r.Add("a", 10) // also a use: b goes next
	if added || got != first || got.Value != 1 {
		t.Fatalf("second Add = %v (value %d), %v; want the first entry, false", got == first, got.Value, added)
	}
	r.Add("c", 3)
	r.wantFreed(t, 2)
}

// TestClearAndSetMax checks that Clear frees what no one holds, least
// recently used first, and that SetMax takes effect at the next Add.
func TestClearAndSetMax(t *testing.T) {
	r := newRig(4)
	for i, k := range []string{"a", "b", "c", "d"} {
		r.Add(k, i)
	}
	r.SetMax(2)
	r.Add("e", 4)
	r.wantFreed(t, 0, 1, 2)
	d := r.Get("d")
	r.Clear()
	r.wantFreed(t, 0, 1, 2, 4)
	if r.Len() != 0 || r.Get("e") != nil {
		t.Fatalf("after Clear: Len %d", r.Len())
	}
	r.Release(d)
	r.wantFreed(t, 0, 1, 2, 4, 3)
}
