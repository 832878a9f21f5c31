package reader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/client"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

const bs = digest.BlockSize

func TestConcurrentColdReadersFetchEachBlockOnce(t *testing.T) {
	region := regiontest.New(t, secret)
	data := regiontest.RandomBytes(8*bs+12345, 1)
	d := region.Add(data)
	c := newMemCache()
	r := newTestReader(t, c, newTestClient(t, region), ReaderOptions{})
	size := int64(len(data))

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		chunk := []int{128 << 10, 4096, 1000003, bs, 3 * bs}[i%5]
		wg.Go(func() {
			got, err := readAll(context.Background(), r, d, size, chunk)
			switch {
			case err != nil:
				errs <- err
			case !bytes.Equal(got, data):
				errs <- fmt.Errorf("reader %d (chunks of %d): wrong bytes", i, chunk)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r.idle()
	for i := range digest.BlockCount(size, bs) {
		if n := region.BlockRequests(d, i); n != 1 {
			t.Errorf("block %d fetched %d times, want once", i, n)
		}
		if n := c.putCount(d, i); n != 1 {
			t.Errorf("block %d cached %d times, want once", i, n)
		}
	}
	if n := region.Requests("blocks"); n != 1 {
		t.Errorf("block digests fetched %d times, want once", n)
	}
	if s := r.Stats(); s.Fetches != 9 || s.BytesFetched != size || s.InFlight != 0 {
		t.Errorf("stats %+v, want 9 fetches of %d bytes", s, size)
	}
	// Every block buffer is accounted for: in memory, or back in the pool.
	if out, held := r.mem.out.Load(), r.mem.len(); out != int64(held) || held > 16 {
		t.Errorf("%d buffers out, %d blocks in memory (at most 16)", out, held)
	}
	r.Close()
	if out := r.mem.out.Load(); out != 0 {
		t.Errorf("%d buffers not returned after Close", out)
	}
}

func TestReadAtOffsets(t *testing.T) {
	region := regiontest.New(t, secret)
	data := regiontest.RandomBytes(3*bs+500, 2)
	d := region.Add(data)
	r := newTestReader(t, newMemCache(), newTestClient(t, region), ReaderOptions{})
	size := int64(len(data))
	for _, tc := range []struct {
		off     int64
		n       int
		wantN   int
		wantEOF bool
	}{
		{0, 10, 10, false},
		{bs - 3, 7, 7, false},                  // spans blocks 0 and 1
		{bs - 1, 2*bs + 2, 2*bs + 2, false},    // spans four blocks
		{12345, 2*bs + 777, 2*bs + 777, false}, // odd offset, odd end
		{size - 500, 500, 500, false},          // exactly the short last block
		{size - 10, 100, 10, true},             // crosses EOF
		{3 * bs, 1000, 500, true},              // last block only, past EOF
		{0, int(size) + 1, int(size), true},    // the whole file and more
		{size, 10, 0, true},                    // at EOF
		{size + 5, 10, 0, true},                // past EOF
		{7, 0, 0, false},                       // empty read
	} {
		p := make([]byte, tc.n)
		n, err := r.ReadAt(context.Background(), d, size, p, tc.off)
		if n != tc.wantN || (err == io.EOF) != tc.wantEOF || (err != nil && err != io.EOF) {
			t.Errorf("ReadAt(%d bytes at %d) = %d, %v; want %d, EOF %v", tc.n, tc.off, n, err, tc.wantN, tc.wantEOF)
			continue
		}
		if !bytes.Equal(p[:n], data[min(tc.off, size):min(tc.off, size)+int64(n)]) {
			t.Errorf("ReadAt(%d bytes at %d): wrong bytes", tc.n, tc.off)
		}
	}
	if _, err := r.ReadAt(context.Background(), d, size, make([]byte, 1), -1); err == nil {
		t.Error("negative offset accepted")
	}
	if _, err := r.ReadAt(context.Background(), d, size+1, make([]byte, 1), 0); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("wrong size: %v, want ErrSizeMismatch", err)
	}
}

func TestReadRegionClosedMidRead(t *testing.T) {
	a, b := regiontest.New(t, secret), regiontest.New(t, secret)
	data := regiontest.RandomBytes(6*bs+77, 3)
	d := a.Add(data)
	b.Add(data)
	a.KillAfter(2*bs + bs/2) // dies in the middle of the third block
	r := newTestReader(t, newMemCache(), newTestClient(t, a, b), ReaderOptions{Readahead: -1})
	r.SetHolders(map[digest.Digest][]string{d: {a.URL()}})
	got, err := readAll(context.Background(), r, d, int64(len(data)), 128<<10)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read across a region dying: err %v, bytes equal %v", err, bytes.Equal(got, data))
	}
	if a.Served() != 2*bs+bs/2 || b.BlockRequests(d, 2) != 1 || b.BlockRequests(d, 6) != 1 {
		t.Fatalf("a served %d bytes, b served block 2 %d times: the failover did not happen as staged",
			a.Served(), b.BlockRequests(d, 2))
	}
}

func TestReadCorruptRegion(t *testing.T) {
	a, b := regiontest.New(t, secret), regiontest.New(t, secret)
	data := regiontest.RandomBytes(4*bs, 4)
	d := a.Add(data)
	b.Add(data)
	a.Corrupt(d, 2, true)
	size := int64(len(data))

	c := newMemCache()
	r := newTestReader(t, c, newTestClient(t, a, b), ReaderOptions{Readahead: -1})
	r.SetHolders(map[digest.Digest][]string{d: {a.URL()}})
	got, err := readAll(context.Background(), r, d, size, 100_000)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with one corrupt region: %v, bytes equal %v", err, bytes.Equal(got, data))
	}
	if a.BlockRequests(d, 2) != 1 || b.BlockRequests(d, 2) != 1 {
		t.Fatal("block 2 was not tried at the corrupt region and then fetched from the other")
	}
	if s := r.Stats(); s.VerifyFailures != 1 {
		t.Fatalf("stats %+v, want one verify failure", s)
	}

	// With only the corrupt region: an error, never the wrong bytes, and
	// nothing cached.
	c2 := newMemCache()
	r2 := newTestReader(t, c2, newTestClient(t, a), ReaderOptions{Readahead: -1})
	p := bytes.Repeat([]byte{0xAA}, 3*bs)
	n, err := r2.ReadAt(context.Background(), d, size, p, bs+10)
	if !errors.Is(err, client.ErrCorrupt) || !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("read of a corrupt block from its only region: %d, %v", n, err)
	}
	if n != bs-10 || !bytes.Equal(p[:n], data[bs+10:2*bs]) {
		t.Fatalf("read returned %d bytes, want the %d good ones before the corrupt block", n, bs-10)
	}
	if !bytes.Equal(p[n:n+bs], bytes.Repeat([]byte{0xAA}, bs)) {
		t.Fatal("bytes of the corrupt block were written to the caller's buffer")
	}
	if c2.has(d, 2) {
		t.Fatal("corrupt block was cached")
	}
}

func TestReadFailover5xxAndHang(t *testing.T) {
	for _, fault := range []string{"503", "hang"} {
		t.Run(fault, func(t *testing.T) {
			a, b := regiontest.New(t, secret), regiontest.New(t, secret)
			data := regiontest.RandomBytes(5*bs+1, 5)
			d := a.Add(data)
			b.Add(data)
			if fault == "503" {
				a.SetStatus(http.StatusServiceUnavailable)
			} else {
				a.SetHang(true)
			}
			cl := newTestClient(t, a, b)
			r := newTestReader(t, newMemCache(), cl, ReaderOptions{})
			r.SetHolders(map[digest.Digest][]string{d: {a.URL()}})
			got, err := readAll(context.Background(), r, d, int64(len(data)), 128<<10)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read with a failing region: %v, bytes equal %v", err, bytes.Equal(got, data))
			}
			st := cl.Stats()
			if st[0].BackoffUntil.IsZero() || st[1].BytesFetched != int64(len(data)) {
				t.Fatalf("region stats %+v: want a in backoff and b serving every byte", st)
			}
			// a was asked once (blocks or digests), then left alone.
			if n := a.Requests("blob") + a.Requests("blocks"); n != 1 {
				t.Fatalf("failing region asked %d times, want once before its backoff", n)
			}
		})
	}
}

func TestReadWrongSecret(t *testing.T) {
	region := regiontest.New(t, "other")
	d := region.Add([]byte("kernel"))
	r := newTestReader(t, newMemCache(), newTestClient(t, region), ReaderOptions{})
	_, err := r.ReadAt(context.Background(), d, 6, make([]byte, 6), 0)
	if !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("wrong secret: %v, want client.ErrUnauthorized", err)
	}
	t.Logf("error reads: %v", err)
}

func TestReadaheadFillsCache(t *testing.T) {
	region := regiontest.New(t, secret)
	data := regiontest.RandomBytes(20*bs, 6)
	d := region.Add(data)
	c := newMemCache()
	r := newTestReader(t, c, newTestClient(t, region), ReaderOptions{Readahead: 4})
	size := int64(len(data))
	ctx := context.Background()
	p := make([]byte, 128<<10)

	if _, err := r.ReadAt(ctx, d, size, p, 0); err != nil {
		t.Fatal(err)
	}
	r.idle()
	for i := range int64(20) {
		want := 0
		if i <= 4 {
			want = 1
		}
		if n := c.putCount(d, i); n != want {
			t.Fatalf("after reading the start of block 0, block %d put %d times, want %d", i, n, want)
		}
	}
	// Reading on through block 1 extends the window to block 5; blocks 1-4
	// are not fetched again.
	for off := int64(len(p)); off < 2*bs; off += int64(len(p)) {
		if _, err := r.ReadAt(ctx, d, size, p, off); err != nil {
			t.Fatal(err)
		}
	}
	r.idle()
	if c.putCount(d, 5) != 1 || c.putCount(d, 6) != 0 || c.totalPuts() != 6 {
		t.Fatalf("after reading blocks 0-1: %d puts, block 5 %d, block 6 %d", c.totalPuts(), c.putCount(d, 5), c.putCount(d, 6))
	}
	s := r.Stats()
	if s.ReadaheadFetches != 5 || s.Fetches != 6 || s.Misses != 1 {
		t.Fatalf("stats %+v: want 5 readahead fetches, 6 in all, one foreground miss", s)
	}
	// A random read elsewhere is not sequential: no readahead.
	if _, err := r.ReadAt(ctx, d, size, p, 15*bs+7); err != nil {
		t.Fatal(err)
	}
	r.idle()
	if c.totalPuts() != 7 || c.putCount(d, 15) != 1 {
		t.Fatalf("a random read caused readahead: %d puts", c.totalPuts())
	}
	for i := range int64(20) {
		if n := region.BlockRequests(d, i); n > 1 {
			t.Fatalf("block %d fetched %d times", i, n)
		}
	}
}

func TestReadCachePutFailures(t *testing.T) {
	region := regiontest.New(t, secret)
	data := regiontest.RandomBytes(12*bs+3, 7)
	d := region.Add(data)
	c := newMemCache()
	c.failPut = errDiskFull
	r := newTestReader(t, c, newTestClient(t, region), ReaderOptions{})
	got, err := readAll(context.Background(), r, d, int64(len(data)), 128<<10)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with a failing cache: %v, bytes equal %v", err, bytes.Equal(got, data))
	}
	// The blocks in memory spare the network: one sequential reader still
	// fetches each block once.
	for i := range int64(13) {
		if n := region.BlockRequests(d, i); n != 1 {
			t.Fatalf("with a failing cache block %d fetched %d times, want once", i, n)
		}
	}
	if s := r.Stats(); s.PutErrors != 13 {
		t.Fatalf("stats %+v, want 13 put errors", s)
	}
}

func TestReadCorruptCacheHit(t *testing.T) {
	region := regiontest.New(t, secret)
	data := regiontest.RandomBytes(2*bs, 8)
	d := region.Add(data)
	c := newMemCache()
	cl := newTestClient(t, region)
	warm := newTestReader(t, c, cl, ReaderOptions{Readahead: -1})
	if _, err := readAll(context.Background(), warm, d, int64(len(data)), bs); err != nil {
		t.Fatal(err)
	}
	c.corrupt[cacheKey(d, 1)] = true

	r := newTestReader(t, c, cl, ReaderOptions{Readahead: -1, VerifyCacheHits: true})
	got, err := readAll(context.Background(), r, d, int64(len(data)), 100_000)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with a corrupt cache hit: %v, bytes equal %v", err, bytes.Equal(got, data))
	}
	if region.BlockRequests(d, 1) != 2 || region.BlockRequests(d, 0) != 1 {
		t.Fatal("the corrupt cached block was not fetched again (or the good one was)")
	}
	if s := r.Stats(); s.VerifyFailures != 1 || s.Hits == 0 {
		t.Fatalf("stats %+v, want one verify failure", s)
	}
}

func TestReaderCloseAndMetrics(t *testing.T) {
	region := regiontest.New(t, secret)
	data := regiontest.RandomBytes(3*bs, 9)
	d := region.Add(data)
	reg := prometheus.NewRegistry()
	r := NewReader(newMemCache(), newTestClient(t, region), ReaderOptions{Metrics: reg})
	if _, err := readAll(context.Background(), r, d, int64(len(data)), bs); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(context.Background(), d, int64(len(data)), make([]byte, 10), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		if m.Counter != nil {
			got[mf.GetName()] = m.Counter.GetValue()
		}
	}
	if got["bootfs_rack_reader_fetches_total"] != 3 || got["bootfs_rack_reader_fetched_bytes_total"] != float64(len(data)) {
		t.Fatalf("metrics %v", got)
	}
}
