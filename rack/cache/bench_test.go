package cache

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

// The benchmarks compare warm cache reads with reads of the same bytes from
// one local file held open (the fastest a stock server can read a file):
// throughput of BenchmarkGetWarm / BenchmarkReadLocalFile is the ratio
// `make bench` reports; the target is >= 0.8. Both read 64 MiB round-robin,
// which stays in the page cache.

const benchBlocks = 64

func benchKeys() []Key {
	ks := make([]Key, benchBlocks)
	for i := range ks {
		ks[i] = key("bench", int64(i))
	}
	return ks
}

// benchCache fills a cache with the benchmark blocks, reopens it (so every
// chunk is untrusted, as after a restart) and reads everything once, which
// checks it: what follows are warm hits.
func benchCache(b *testing.B, o Options) (*Cache, []Key) {
	dir := b.TempDir()
	o.Dir = dir
	c := open(b, o)
	keys := benchKeys()
	for _, k := range keys {
		mustPut(b, c, k, block(k, digest.BlockSize))
	}
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	c = open(b, o)
	for _, k := range keys {
		mustGet(b, c, k, block(k, digest.BlockSize))
	}
	return c, keys
}

// benchFile writes the benchmark blocks to one local file, reads it once
// and returns it open.
func benchFile(b *testing.B) *os.File {
	p := filepath.Join(b.TempDir(), "blocks")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	buf := make([]byte, digest.BlockSize)
	for i, k := range benchKeys() {
		if _, err := f.WriteAt(block(k, digest.BlockSize), int64(i)*digest.BlockSize); err != nil {
			b.Fatal(err)
		}
	}
	for i := range benchBlocks {
		if _, err := f.ReadAt(buf, int64(i)*digest.BlockSize); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

func benchGet(b *testing.B, o Options) {
	c, keys := benchCache(b, o)
	buf := make([]byte, digest.BlockSize)
	b.SetBytes(digest.BlockSize)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if n, ok := c.Get(keys[i%benchBlocks], buf); !ok || n != digest.BlockSize {
			b.Fatal("miss")
		}
	}
}

func BenchmarkGetWarm(b *testing.B) { benchGet(b, Options{}) }

// BenchmarkGetWarmVerifyHits is BenchmarkGetWarm with a CRC check on every
// hit, for comparison.
func BenchmarkGetWarmVerifyHits(b *testing.B) { benchGet(b, Options{VerifyHits: true}) }

func BenchmarkReadLocalFile(b *testing.B) {
	f := benchFile(b)
	buf := make([]byte, digest.BlockSize)
	b.SetBytes(digest.BlockSize)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := f.ReadAt(buf, int64(i%benchBlocks)*digest.BlockSize); err != nil {
			b.Fatal(err)
		}
	}
}

// The 128 KiB pair is the size of a typical FUSE read.
const benchRead = 128 << 10

func BenchmarkReadAtWarm128K(b *testing.B) {
	c, keys := benchCache(b, Options{})
	p := make([]byte, benchRead)
	b.SetBytes(benchRead)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		off := int64(i/benchBlocks%(digest.BlockSize/benchRead)) * benchRead
		if n, ok := c.ReadAt(keys[i%benchBlocks], p, off); !ok || n != benchRead {
			b.Fatal("miss")
		}
	}
}

func BenchmarkReadLocalFile128K(b *testing.B) {
	f := benchFile(b)
	p := make([]byte, benchRead)
	b.SetBytes(benchRead)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		off := int64(i%benchBlocks)*digest.BlockSize + int64(i/benchBlocks%(digest.BlockSize/benchRead))*benchRead
		if _, err := f.ReadAt(p, off); err != nil {
			b.Fatal(err)
		}
	}
}
