package cache

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

// open opens a cache in o.Dir (a fresh temp dir when empty) and closes it
// at cleanup.
func open(t testing.TB, o Options) *Cache {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// key returns a Key for a named test file.
func key(name string, idx int64) Key { return Key{File: digest.Of([]byte(name)), Index: idx} }

// block returns size deterministic pseudo-random bytes for k.
func block(k Key, size int) []byte {
	r := rand.New(rand.NewPCG(uint64(k.File[0])<<8|uint64(k.File[1]), uint64(k.Index)))
	b := make([]byte, size)
	for i := 0; i < size; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < size; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func mustPut(t testing.TB, c *Cache, k Key, data []byte) {
	t.Helper()
	if err := c.Put(k, data); err != nil {
		t.Fatalf("Put(%v): %v", k, err)
	}
}

// mustGet fails unless Get returns exactly want.
func mustGet(t testing.TB, c *Cache, k Key, want []byte) {
	t.Helper()
	buf := make([]byte, digest.BlockSize)
	n, ok := c.Get(k, buf)
	if !ok {
		t.Fatalf("Get(%v) missed", k)
	}
	if !bytes.Equal(buf[:n], want) {
		t.Fatalf("Get(%v) = %d bytes, not the %d put", k, n, len(want))
	}
}

func mustMiss(t testing.TB, c *Cache, k Key) {
	t.Helper()
	buf := make([]byte, digest.BlockSize)
	if n, ok := c.Get(k, buf); ok || n != 0 {
		t.Fatalf("Get(%v) = %d, %v; want a miss", k, n, ok)
	}
}

// order returns the cached keys, least recently used first.
func order(c *Cache) []Key {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ks []Key
	for el := c.lru.Back(); el != nil; el = el.Prev() {
		ks = append(ks, el.Value.(*entry).key)
	}
	return ks
}

// blockPath returns the file holding k.
func blockPath(t testing.TB, c *Cache, k Key) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil {
		t.Fatalf("%v not cached", k)
	}
	return e.path
}

// blockFiles lists the block files under dir/blocks with their sizes.
func blockFiles(t testing.TB, dir string) map[string]int64 {
	t.Helper()
	out := make(map[string]int64)
	err := filepath.WalkDir(filepath.Join(dir, blocksDir), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			out[strings.TrimPrefix(p, dir)] = info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
