package reader

import (
	"context"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/cache"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

// discardCache is a BlockCache that stores nothing: the Reader then runs on
// the network and its in-memory blocks alone.
type discardCache struct{}

func (discardCache) Get(cache.Key, []byte) (int, bool) { return 0, false }
func (discardCache) Put(cache.Key, []byte) error       { return nil }

// BenchmarkColdSequentialRead reads a 64 MiB file from an httptest region
// in 128 KiB reads (what FUSE asks), cold, through the Reader (with no
// cache, and with the real disk cache), and compares with one plain HTTP GET
// of the same bytes from the same server. The ratio reader/http is the
// Reader's overhead over streaming (make bench reports it).
func BenchmarkColdSequentialRead(b *testing.B) {
	const size = 64 << 20
	region := regiontest.New(b, secret)
	d := region.Add(regiontest.RandomBytes(size, 42))

	read := func(b *testing.B, newCache func() (BlockCache, func())) {
		buf := make([]byte, 128<<10)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			c, done := newCache()
			r := NewReader(c, newTestClient(b, region), ReaderOptions{})
			b.StartTimer()
			for off := int64(0); off < size; off += int64(len(buf)) {
				if _, err := r.ReadAt(context.Background(), d, size, buf, off); err != nil && err != io.EOF {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			r.Close()
			done()
			b.StartTimer()
		}
	}
	b.Run("reader", func(b *testing.B) {
		read(b, func() (BlockCache, func()) { return discardCache{}, func() {} })
	})
	b.Run("reader-diskcache", func(b *testing.B) {
		read(b, func() (BlockCache, func()) {
			dir, err := os.MkdirTemp("", "bootfs-bench-")
			if err != nil {
				b.Fatal(err)
			}
			c, err := cache.Open(cache.Options{Dir: dir})
			if err != nil {
				b.Fatal(err)
			}
			return c, func() { c.Close(); os.RemoveAll(dir) }
		})
	})
	for _, hash := range []bool{false, true} {
		name := "http"
		if hash {
			name = "http-sha256" // hashing what it reads, as the Reader does
		}
		b.Run(name, func(b *testing.B) { getAll(b, region.URL(), d, size, hash) })
	}
}

// getAll GETs file d in one request and reads it all, hashing it if hash.
func getAll(b *testing.B, base string, d digest.Digest, size int64, hash bool) {
	buf := make([]byte, 128<<10)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequest(http.MethodGet, base+wire.PathBlobs+d.String(), nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var w io.Writer = io.Discard
		if hash {
			w = digest.New()
		}
		n, err := io.CopyBuffer(w, resp.Body, buf)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("GET: %d bytes, %v", n, err)
		}
	}
}

// BenchmarkWholeFileCheck is the cost of the whole-file sha256 check a
// cached file gets before its first passthrough hand-over (whole.go): a
// 256 MiB content file, warm in the page cache (as it is right after being
// cached), hashed through hashFD. Reported as MB/s; s/GiB = 1073.7 / MB/s.
func BenchmarkWholeFileCheck(b *testing.B) {
	const size = 256 << 20
	f, err := os.CreateTemp(b.TempDir(), "content")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	for range size / len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	want, err := hashFD(context.Background(), int(f.Fd()), size)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		got, err := hashFD(context.Background(), int(f.Fd()), size)
		if err != nil || got != want {
			b.Fatalf("hashFD = %v, %v", got, err)
		}
	}
}

// BenchmarkHit128K serves a 128 KiB FUSE-sized read of a block held in
// memory, as ReadAt (copied into the caller's buffer) and as Lend (the
// block's bytes lent, nothing copied): the user-space copy that lending
// saves on every READ of a block just fetched.
func BenchmarkHit128K(b *testing.B) {
	const size = 4 << 20
	region := regiontest.New(b, secret)
	d := region.Add(regiontest.RandomBytes(size, 43))
	r := NewReader(discardCache{}, newTestClient(b, region), ReaderOptions{Readahead: -1})
	defer r.Close()
	buf := make([]byte, 128<<10)
	if _, err := r.ReadAt(context.Background(), d, size, buf, 0); err != nil {
		b.Fatal(err)
	}
	b.Run("ReadAt", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.ReadAt(context.Background(), d, size, buf, 128<<10); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Lend", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			bufs, release, err := r.Lend(context.Background(), d, size, 128<<10, len(buf), nil)
			if err != nil || release == nil || len(bufs) != 1 {
				b.Fatalf("Lend: %v, %d buffers", err, len(bufs))
			}
			release()
		}
	})
}
