package cache

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

func TestPutGetRoundTrip(t *testing.T) {
	c := open(t, Options{})
	full, short := key("vmlinuz", 0), key("vmlinuz", 1)
	fullData, shortData := block(full, digest.BlockSize), block(short, 123457)
	mustPut(t, c, full, fullData)
	mustPut(t, c, short, shortData)
	mustGet(t, c, full, fullData)
	mustGet(t, c, short, shortData)
	if !c.Contains(full) || !c.Contains(short) || c.Contains(key("vmlinuz", 2)) {
		t.Fatal("Contains wrong")
	}
	s := c.Stats()
	if s.Blocks != 2 || s.Files != 1 || s.Used != int64(len(fullData)+len(shortData)) || s.Hits != 2 || s.Misses != 0 {
		t.Fatalf("Stats = %+v", s)
	}
	if s.Limit != DefaultLimit {
		t.Fatalf("Limit = %d, want the default %d", s.Limit, DefaultLimit)
	}
}

func TestReadAt(t *testing.T) {
	for _, verify := range []bool{false, true} {
		c := open(t, Options{VerifyHits: verify})
		k := key("initrd", 3)
		data := block(k, digest.BlockSize-1000)
		mustPut(t, c, k, data)
		cases := []struct{ off, n int }{
			{0, 128 << 10},          // aligned, two chunks
			{64 << 10, 64 << 10},    // exactly one chunk
			{1, 10},                 // inside one chunk, unaligned
			{65530, 20},             // across a chunk boundary
			{100000, 700000},        // many chunks, unaligned both ends
			{len(data) - 5, 4096},   // runs past the end: clamped
			{len(data), 10},         // at the end: nothing
			{0, digest.BlockSize},   // whole block
			{len(data) - 70000, 10}, // in the short last chunk
		}
		for _, tc := range cases {
			p := make([]byte, tc.n)
			n, ok := c.ReadAt(k, p, int64(tc.off))
			want := data[tc.off:min(tc.off+tc.n, len(data))]
			if !ok || !bytes.Equal(p[:n], want) {
				t.Fatalf("verify=%v ReadAt(off %d, len %d) = %d, %v; want %d bytes", verify, tc.off, tc.n, n, ok, len(want))
			}
		}
		for _, off := range []int64{-1, int64(len(data)) + 1} {
			if _, ok := c.ReadAt(k, make([]byte, 10), off); ok {
				t.Fatalf("ReadAt(off %d) ok", off)
			}
		}
		if s := c.Stats(); s.Corrupt != 0 || s.Blocks != 1 {
			t.Fatalf("Stats = %+v", s)
		}
	}
}

func TestMiss(t *testing.T) {
	c := open(t, Options{})
	mustMiss(t, c, key("nothing", 0))
	if _, ok := c.ReadAt(key("nothing", 0), make([]byte, 10), 0); ok {
		t.Fatal("ReadAt of an absent block ok")
	}
	if s := c.Stats(); s.Misses != 2 || s.Hits != 0 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestPutInvalid(t *testing.T) {
	c := open(t, Options{Limit: 1000})
	for _, tc := range []struct {
		k    Key
		size int
	}{
		{key("a", 0), 0},
		{key("a", 0), digest.BlockSize + 1},
		{key("a", -1), 10},
		{key("a", 0), 1001}, // over the limit
	} {
		if err := c.Put(tc.k, make([]byte, tc.size)); err == nil {
			t.Errorf("Put(%v, %d bytes) succeeded", tc.k, tc.size)
		}
	}
	if s := c.Stats(); s.Blocks != 0 || s.Used != 0 || s.Degraded || s.DiskErrors != 0 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestGetShortBufferPanics(t *testing.T) {
	c := open(t, Options{})
	k := key("a", 0)
	mustPut(t, c, k, block(k, 1000))
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	c.Get(k, make([]byte, 999))
}

func TestEvictionByBytes(t *testing.T) {
	const kib = 1 << 10
	c := open(t, Options{Limit: 300 * kib})
	a, b, cc, d := key("f", 0), key("f", 1), key("f", 2), key("g", 0)
	mustPut(t, c, a, block(a, 100*kib))
	mustPut(t, c, b, block(b, 100*kib))
	mustPut(t, c, cc, block(cc, 100*kib))
	mustGet(t, c, a, block(a, 100*kib))
	// One file: its last blocks go first.
	if got, want := order(c), []Key{cc, b, a}; !slices.Equal(got, want) {
		t.Fatalf("eviction order %v, want %v", got, want)
	}
	// 150 KiB more needs two 100 KiB victims: c, then b; a stays.
	mustPut(t, c, d, block(d, 150*kib))
	if got, want := order(c), []Key{a, d}; !slices.Equal(got, want) { // f read least recently
		t.Fatalf("eviction order %v, want %v", got, want)
	}
	mustMiss(t, c, b)
	mustMiss(t, c, cc)
	mustGet(t, c, a, block(a, 100*kib))
	mustGet(t, c, d, block(d, 150*kib))
	if s := c.Stats(); s.Evictions != 2 || s.Used != 250*kib || s.Blocks != 2 || s.Files != 2 {
		t.Fatalf("Stats = %+v", s)
	}
	if files := blockFiles(t, c.dir); len(files) != 2 {
		t.Fatalf("files on disk: %v", files)
	}
	// Putting a cached block again only counts as a use of its file.
	mustPut(t, c, a, block(a, 100*kib))
	if got, want := order(c), []Key{d, a}; !slices.Equal(got, want) {
		t.Fatalf("eviction order after re-Put %v, want %v", got, want)
	}
}

// TestLimitRespected drives the cache with random puts and gets of one
// file's blocks against a model of the eviction order (policy.go: within a
// file, the last blocks go first, whatever was read) and checks, after every step, that the cached set, its order
// and the bytes used (in the index and on disk) agree with the model and
// stay within the limit.
func TestLimitRespected(t *testing.T) {
	const limit = digest.BlockSize + 12345
	c := open(t, Options{Limit: limit})
	r := rand.New(rand.NewPCG(1, 2))
	sizes := make(map[Key]int)
	var model []Key // the next victim first: by index, highest first
	sortModel := func() {
		slices.SortFunc(model, func(a, b Key) int { return int(b.Index - a.Index) })
	}
	used := func() (n int64) {
		for _, k := range model {
			n += int64(sizes[k])
		}
		return n
	}
	for step := range 300 {
		k := key("file", int64(r.IntN(40)))
		if _, ok := sizes[k]; !ok {
			sizes[k] = 1 + r.IntN(digest.BlockSize/3)
		}
		i := slices.Index(model, k)
		if r.IntN(2) == 0 {
			mustPut(t, c, k, block(k, sizes[k]))
			if i < 0 {
				for used()+int64(sizes[k]) > limit {
					model = model[1:]
				}
				model = append(model, k)
				sortModel()
			}
		} else if i >= 0 {
			mustGet(t, c, k, block(k, sizes[k]))
		} else {
			mustMiss(t, c, k)
		}
		s := c.Stats()
		if s.Used > limit || s.Used != used() {
			t.Fatalf("step %d: Used %d, model %d, limit %d", step, s.Used, used(), limit)
		}
		if got := order(c); !slices.Equal(got, model) {
			t.Fatalf("step %d: order %v, model %v", step, got, model)
		}
		var onDisk int64
		files := blockFiles(t, c.dir)
		for _, n := range files {
			onDisk += n
		}
		if want := roundedUsed(t, c); onDisk != want || len(files) != s.Blocks {
			t.Fatalf("step %d: %d blocks, %d bytes on disk; %d blocks, %d bytes cached", step, len(files), onDisk, s.Blocks, want)
		}
	}
	if c.Stats().Evictions == 0 {
		t.Fatal("test never evicted")
	}
}

func TestInUse(t *testing.T) {
	dir := t.TempDir()
	c := open(t, Options{Dir: dir})
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open: %v, want ErrInUse", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, Options{Dir: dir})
}

func TestClosed(t *testing.T) {
	c := open(t, Options{})
	k := key("a", 0)
	mustPut(t, c, k, block(k, 10))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.Put(key("b", 0), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	if err := c.Flush(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
	mustMiss(t, c, k)
	if c.Contains(k) {
		t.Fatal("Contains after Close")
	}
}
