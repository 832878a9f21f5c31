package cache

import (
	"slices"
	"testing"
	"time"
)

// victims returns the first n nodes of p's eviction order as file/index
// pairs.
func victims(p *fileLFU[string], n int) []string {
	var out []string
	p.each(func(x *lfuNode[string]) bool {
		out = append(out, x.file.id+"/"+string(rune('0'+x.idx)))
		return len(out) < n
	})
	return out
}

// TestFileLFUScanResistant: a file read once, however large, is evicted
// before a file read twice, and its last blocks go first.
func TestFileLFUScanResistant(t *testing.T) {
	p := newFileLFU[string](0)
	now := int64(0)
	read := func(id string, blocks int) {
		for i := range blocks {
			now++
			p.insert(id, int64(i), 1, nil, now)
		}
	}
	read("hot", 2)
	for i := range 2 { // a second boot: uses of cached blocks
		now++
		p.touch(p.files["hot"].blocks[int64(i)], now)
	}
	read("scan", 5) // read once, after hot
	if got, want := victims(p, 6), []string{"scan/4", "scan/3", "scan/2", "scan/1", "scan/0", "hot/1"}; !slices.Equal(got, want) {
		t.Fatalf("victims %v, want %v", got, want)
	}
	if p.len() != 7 {
		t.Fatalf("len %d", p.len())
	}
	// Removing a file's blocks keeps its count: read again, it is as hot.
	p.each(func(n *lfuNode[string]) bool {
		if n.file.id == "hot" {
			p.remove(n)
		}
		return true
	})
	if p.len() != 5 || p.files["hot"].freq != 2 {
		t.Fatalf("len %d, hot freq %d", p.len(), p.files["hot"].freq)
	}
	read("hot", 1)
	if got := victims(p, 1); got[0] != "scan/4" {
		t.Fatalf("first victim %v after hot came back, want scan/4", got)
	}
}

// TestFileLFUWindow: uses of block 0 within the window of the counted one
// are the same read (the kernel reads a block in pieces).
func TestFileLFUWindow(t *testing.T) {
	p := newFileLFU[string](10)
	n := p.insert("f", 0, 1, nil, 100)
	p.touch(n, 105)
	p.touch(n, 109)
	if f := p.files["f"].freq; f != 1 {
		t.Fatalf("freq %d after uses within the window, want 1", f)
	}
	p.touch(n, 110)
	if f := p.files["f"].freq; f != 2 {
		t.Fatalf("freq %d after a use past the window, want 2", f)
	}
}

// TestFileLFUAges: counts halve, so a new favourite overtakes an old one.
func TestFileLFUAges(t *testing.T) {
	p := newFileLFU[string](0)
	now := int64(0)
	old := p.insert("old", 0, 1, nil, now)
	for range 1000 {
		now++
		p.touch(old, now)
	}
	nw := p.insert("new", 0, 1, nil, now)
	for range 100 {
		now++
		p.touch(nw, now)
	}
	if got := victims(p, 1); got[0] != "old/0" {
		t.Fatalf("first victim %v, want old/0 (read less lately)", got)
	}
}

// TestScanKeepsHotFiles: a file read by two boots stays cached while a
// one-off read of a file larger than the cache goes through it (plain LRU
// flushed it).
func TestScanKeepsHotFiles(t *testing.T) {
	c := open(t, Options{Limit: 4000})
	clock := time.Unix(1000, 0)
	c.now = func() time.Time { return clock }
	hot := []Key{key("hot", 0), key("hot", 1)}
	for _, k := range hot {
		mustPut(t, c, k, block(k, 1000))
	}
	clock = clock.Add(time.Minute) // the next boot
	for _, k := range hot {
		mustGet(t, c, k, block(k, 1000))
	}
	clock = clock.Add(time.Minute)
	for i := range int64(10) {
		k := key("scan", i)
		mustPut(t, c, k, block(k, 1000))
	}
	for _, k := range hot {
		mustGet(t, c, k, block(k, 1000))
	}
	if s := c.Stats(); s.Used > 4000 || s.Evictions != 8 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestTooLarge(t *testing.T) {
	const gib = 1 << 30
	paths, suggest := TooLarge(4*gib, map[string]int64{"a": 1, "big": 8 * gib, "mid": 5 * gib, "edge": 4 * gib})
	if !slices.Equal(paths, []string{"big", "mid"}) || suggest != 10*gib {
		t.Fatalf("TooLarge = %v, %d", paths, suggest)
	}
	if paths, suggest := TooLarge(4*gib, map[string]int64{"a": 4 * gib}); paths != nil || suggest != 0 {
		t.Fatalf("TooLarge of fitting files = %v, %d", paths, suggest)
	}
}
