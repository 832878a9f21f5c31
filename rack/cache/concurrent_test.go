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

// TestEvictedAfterOpen evicts a block while a Get has its file open but has
// not read it yet: the block's bytes must stay on disk until the Get has
// returned the whole, right block, and be freed after. With warm, the Get
// uses the descriptor the cache kept from an earlier read.
func TestEvictedAfterOpen(t *testing.T) {
	for _, warm := range []bool{false, true} {
		c := open(t, Options{Limit: 2 * digest.BlockSize})
		a, b, cc := key("f", 0), key("f", 1), key("f", 2)
		for _, k := range []Key{a, b} {
			mustPut(t, c, k, block(k, digest.BlockSize))
		}
		if warm {
			mustGet(t, c, a, block(a, digest.BlockSize))
			mustGet(t, c, b, block(b, digest.BlockSize)) // b is the most recent again
		}
		path, _ := blockPath(t, c, a)
		aBlock := strings.TrimPrefix(path, c.dir) + "/0"
		c.testHook = func(stage string) {
			if stage != "open" {
				return
			}
			c.testHook = nil
			mustPut(t, c, cc, block(cc, digest.BlockSize)) // evicts b
			mustPut(t, c, b, block(b, digest.BlockSize))   // evicts a, the block being read
			if c.Contains(a) {
				t.Fatal("a not evicted")
			}
			if blockFiles(t, c.dir)[aBlock] != digest.BlockSize {
				t.Fatal("the block being read was punched out of its file")
			}
		}
		mustGet(t, c, a, block(a, digest.BlockSize))
		if n := blockFiles(t, c.dir)[aBlock]; n != 0 {
			t.Fatalf("the evicted block still holds %d bytes after the read", n)
		}
		if s := c.Stats(); s.Corrupt != 0 || s.DiskErrors != 0 || s.Evictions != 2 {
			t.Fatalf("warm=%v: Stats = %+v", warm, s)
		}
		if n := c.fdLRU.Len(); warm && n != 1 {
			t.Fatalf("%d descriptors kept; want the content file's", n)
		}
	}
}

// TestEvictedBeforeOpen evicts a block between a Get's lookup and its open.
// While other blocks keep its content file, the pinned block is still read
// intact; when it was the file's last block, the file is gone and the Get
// is an ordinary miss, not a corrupt entry.
func TestEvictedBeforeOpen(t *testing.T) {
	for _, sameFile := range []bool{true, false} {
		c := open(t, Options{Limit: digest.BlockSize})
		a, b := key("f", 0), key("g", 0)
		if sameFile {
			b = key("f", 1)
		}
		mustPut(t, c, a, block(a, digest.BlockSize))
		c.testHook = func(stage string) {
			if stage == "lookup" {
				c.testHook = nil
				mustPut(t, c, b, block(b, digest.BlockSize)) // evicts a
			}
		}
		misses := int64(0)
		if sameFile {
			mustGet(t, c, a, block(a, digest.BlockSize))
		} else {
			mustMiss(t, c, a)
			misses = 1
		}
		if s := c.Stats(); s.Corrupt != 0 || s.DiskErrors != 0 || s.Misses != misses || s.Blocks != 1 {
			t.Fatalf("sameFile=%v: Stats = %+v", sameFile, s)
		}
		if files := blockFiles(t, c.dir); len(files) != 1 {
			t.Fatalf("sameFile=%v: blocks on disk %v, want only b's", sameFile, files)
		}
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
