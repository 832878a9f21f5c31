package cache

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

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

// order returns the cached keys in eviction order, the next victim first.
func order(c *Cache) []Key {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ks []Key
	c.order.each(func(n *lfuNode[digest.Digest]) bool {
		ks = append(ks, n.owner.(*entry).key)
		return true
	})
	return ks
}

// blockPath returns the content file holding k and where k starts in it.
func blockPath(t testing.TB, c *Cache, k Key) (string, int64) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil {
		t.Fatalf("%v not cached", k)
	}
	return e.file.path, e.off()
}

// blockFiles lists the blocks that hold disk space under dir/files, as
// "<content file>/<block index>", with the bytes of data in each rounded up
// to the filesystem's block size (holes punched by eviction hold none).
func blockFiles(t testing.TB, dir string) map[string]int64 {
	t.Helper()
	out := make(map[string]int64)
	err := filepath.WalkDir(filepath.Join(dir, filesDir), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		for off := int64(0); off < info.Size(); {
			start, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
			if err == unix.ENXIO {
				break
			}
			if err != nil {
				return err
			}
			end, err := unix.Seek(int(f.Fd()), start, unix.SEEK_HOLE)
			if err != nil {
				return err
			}
			for b := start / digest.BlockSize; b*digest.BlockSize < end; b++ {
				lo, hi := max(start, b*digest.BlockSize), min(end, (b+1)*digest.BlockSize)
				out[fmt.Sprintf("%s/%d", strings.TrimPrefix(p, dir), b)] += hi - lo
			}
			off = end
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	for k, n := range out {
		out[k] = (n + st.Bsize - 1) / st.Bsize * st.Bsize
	}
	return out
}

// roundedUsed is what the cached blocks take on disk as blockFiles counts
// it: each block's bytes rounded up to the filesystem's block size.
func roundedUsed(t testing.TB, c *Cache) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(c.dir, &st); err != nil {
		t.Fatal(err)
	}
	bs := st.Bsize
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, e := range c.entries {
		n += (e.size + bs - 1) / bs * bs
	}
	return n
}
