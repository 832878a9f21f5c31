package cache

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

// TestPinnedNotEvicted: a block being read (its lookup done, at either
// stage before the read) is in use: eviction passes it over; the read
// returns the block, and afterwards the block can be evicted and its space
// is freed.
func TestPinnedNotEvicted(t *testing.T) {
	for _, stage := range []string{"lookup", "open"} {
		// A warm read uses the kept descriptor: it never reaches "lookup".
		for _, warm := range []bool{false, stage == "open"} {
			c := open(t, Options{Limit: 2 * digest.BlockSize})
			a, b, cc := key("f", 0), key("h", 0), key("g", 0)
			for _, k := range []Key{a, b} {
				mustPut(t, c, k, block(k, digest.BlockSize))
			}
			if warm {
				mustGet(t, c, a, block(a, digest.BlockSize))
				mustGet(t, c, b, block(b, digest.BlockSize)) // a's file is read least recently
			}
			path, _ := blockPath(t, c, a)
			aBlock := strings.TrimPrefix(path, c.dir) + "/0"
			c.testHook = func(s string) {
				if s != stage {
					return
				}
				c.testHook = nil
				mustPut(t, c, cc, block(cc, digest.BlockSize)) // evicts b, not a
				mustPut(t, c, b, block(b, digest.BlockSize))   // evicts cc, not a
				if !c.Contains(a) || !c.Contains(b) || c.Contains(cc) {
					t.Fatalf("%s warm=%v: a %v, b %v, cc %v cached", stage, warm, c.Contains(a), c.Contains(b), c.Contains(cc))
				}
			}
			mustGet(t, c, a, block(a, digest.BlockSize))
			mustPut(t, c, cc, block(cc, digest.BlockSize)) // now evicts a
			if c.Contains(a) || blockFiles(t, c.dir)[aBlock] != 0 {
				t.Fatalf("%s warm=%v: a not evicted and freed after its read", stage, warm)
			}
			if s := c.Stats(); s.Corrupt != 0 || s.DiskErrors != 0 || s.Evictions != 3 {
				t.Fatalf("%s warm=%v: Stats = %+v", stage, warm, s)
			}
		}
	}
}

// TestDiscardedWhileRead: a block discarded (as another read found it bad)
// while a read has it open keeps its bytes until that read is done; then
// its slot is freed. A block of the same key in a newer file of the same
// digest is not held by the old read.
func TestDiscardedWhileRead(t *testing.T) {
	c := open(t, Options{})
	a, b := key("f", 0), key("f", 1)
	for _, k := range []Key{a, b} {
		mustPut(t, c, k, block(k, 5000))
	}
	path, _ := blockPath(t, c, a)
	rel := strings.TrimPrefix(path, c.dir)
	discard := func(k Key) {
		c.mu.Lock()
		e := *c.entries[k]
		c.mu.Unlock()
		c.readFailed(e, errChecksum)
	}
	c.testHook = func(s string) {
		if s != "open" {
			return
		}
		c.testHook = nil
		discard(a) // held: the read in progress uses it
		if blockFiles(t, c.dir)[rel+"/0"] == 0 {
			t.Fatal("a discarded block was punched under a read")
		}
		// The file loses its last block and is unlinked; a new file of
		// the same digest gets a again, which is then discarded: that
		// slot is freed at once, the old read holds the old file only.
		discard(b)
		mustPut(t, c, a, block(a, 5000))
		mustPut(t, c, b, block(b, 5000))
		discard(a)
		if n := blockFiles(t, c.dir)[rel+"/0"]; n != 0 {
			t.Fatalf("a's slot in the new file holds %d bytes after its discard", n)
		}
	}
	mustGet(t, c, a, block(a, 5000)) // the old file's bytes, intact
	if s := c.Stats(); s.Corrupt != 3 || s.Blocks != 1 {
		t.Fatalf("Stats = %+v", s)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.held) != 0 {
		t.Fatalf("held keys left: %v", c.held)
	}
}

// TestConcurrent runs puts, gets, partial reads and flushes at once on a
// cache that holds a fraction of the blocks, so blocks are evicted under
// readers all the time. Run with -race. Every block served must be exactly
// the one put, the limit must hold throughout, and at the end the files on
// disk must be exactly the cached blocks.
func TestConcurrent(t *testing.T) {
	const (
		nkeys  = 48
		limit  = 6 * 200 << 10
		ops    = 400
		actors = 3
	)
	c := open(t, Options{Limit: limit})
	size := func(k Key) int { return 1000 + int(k.Index)*4000 } // 1 KB .. 190 KB
	keys := make([]Key, nkeys)
	data := make(map[Key][]byte)
	for i := range keys {
		keys[i] = key("file"+fmt.Sprint(i%5), int64(i))
		data[keys[i]] = block(keys[i], size(keys[i]))
	}
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	report := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	for g := range actors {
		wg.Add(3)
		go func() { // putter
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range ops {
				k := keys[r.IntN(nkeys)]
				if err := c.Put(k, data[k]); err != nil {
					report(err)
				}
				if used := c.Stats().Used; used > limit {
					report(fmt.Errorf("used %d > limit %d", used, limit))
				}
			}
		}()
		go func() { // whole-block reader
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 2))
			buf := make([]byte, digest.BlockSize)
			for range ops {
				k := keys[r.IntN(nkeys)]
				if n, ok := c.Get(k, buf); ok && !bytes.Equal(buf[:n], data[k]) {
					report(fmt.Errorf("Get(%v) returned wrong bytes", k))
				}
			}
		}()
		go func() { // partial reader, and a flush now and then
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 3))
			p := make([]byte, 100<<10)
			for i := range ops {
				k := keys[r.IntN(nkeys)]
				off := r.IntN(size(k))
				if n, ok := c.ReadAt(k, p, int64(off)); ok && !bytes.Equal(p[:n], data[k][off:off+n]) {
					report(fmt.Errorf("ReadAt(%v, %d) returned wrong bytes", k, off))
				}
				if i%50 == 0 {
					if err := c.Flush(); err != nil {
						report(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	s := c.Stats()
	if s.Corrupt != 0 || s.DiskErrors != 0 || s.Evictions == 0 || s.Hits == 0 {
		t.Fatalf("Stats = %+v", s)
	}
	var onDisk int64
	files := blockFiles(t, c.dir)
	for _, n := range files {
		onDisk += n
	}
	if len(files) != s.Blocks || onDisk != roundedUsed(t, c) {
		t.Fatalf("%d blocks, %d bytes on disk; Stats = %+v", len(files), onDisk, s)
	}
}
