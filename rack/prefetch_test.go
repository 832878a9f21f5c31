package rack

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/cache"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

const noblePrefetch = "ubuntu/amd64/*/noble/stable/*"

// cachedBlocks returns how many blocks of file d (size bytes) the mount's
// cache holds.
func cachedBlocks(m *Mount, d digest.Digest, size int64) int64 {
	var n int64
	for i := range digest.BlockCount(size, digest.BlockSize) {
		if m.cache.Contains(cache.Key{File: d, Index: i}) {
			n++
		}
	}
	return n
}

func entryOf(t *testing.T, tr wire.Tree, p string) wire.Entry {
	t.Helper()
	for _, e := range tr.Files {
		if e.Path == p {
			return e
		}
	}
	t.Fatalf("no %s in the tree", p)
	return wire.Entry{}
}

// TestPrefetchWarmsNewMatchingSets: with prefetch=, the matching files of
// the first tree and a new set published while mounted are cached without
// any read; a new set that does not match is not; status and metrics count
// the prefetched bytes.
func TestPrefetchWarmsNewMatchingSets(t *testing.T) {
	r := regiontest.New(t, testSecret)
	fl := files{
		"ubuntu/amd64/ga-24.04/noble/stable/boot-kernel": randBytes(1, 3*digest.BlockSize+100),
		"ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel": randBytes(2, 2*digest.BlockSize),
		"bootx64.efi": randBytes(3, 1000),
	}
	t1 := fl.tree(r, "g1")
	r.SetTree(t1)
	cfg := testConfig(t, r.URL())
	cfg.Prefetch = []string{noblePrefetch}
	cfg.PrefetchRate = 1 << 30
	cfg.MetricsListen = "127.0.0.1:0"
	m := start(t, cfg)

	noble := entryOf(t, t1, "ubuntu/amd64/ga-24.04/noble/stable/boot-kernel")
	testpoll.Until(t, 20*time.Second, "the noble kernel prefetched at start", func() bool {
		return cachedBlocks(m, noble.SHA256, noble.Size) == 4
	})

	// A new set: a noble squashfs and a new jammy kernel.
	fl["ubuntu/amd64/hwe-24.04/noble/stable/squashfs"] = randBytes(4, 5*digest.BlockSize+7)
	fl["ubuntu/amd64/ga-22.04/jammy/stable/squashfs"] = randBytes(5, 4*digest.BlockSize)
	t2 := fl.tree(r, "g2")
	r.SetTree(t2)
	sq := entryOf(t, t2, "ubuntu/amd64/hwe-24.04/noble/stable/squashfs")
	testpoll.Until(t, 20*time.Second, "the new noble squashfs prefetched", func() bool {
		return cachedBlocks(m, sq.SHA256, sq.Size) == 6
	})
	testpoll.Until(t, 10*time.Second, "the prefetcher idle", func() bool {
		st := xattrStatus(t, cfg.Mountpoint)
		return st.Prefetch != nil && st.Prefetch.FilesDone == 2 && st.Prefetch.Current == ""
	})
	for _, p := range []string{"ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel", "ubuntu/amd64/ga-22.04/jammy/stable/squashfs", "bootx64.efi"} {
		e := entryOf(t, t2, p)
		if n := cachedBlocks(m, e.SHA256, e.Size); n != 0 {
			t.Errorf("%s does not match %s but %d blocks of it were cached", p, noblePrefetch, n)
		}
		if n := r.BlockRequests(e.SHA256, 0); n != 0 {
			t.Errorf("%s does not match %s but was fetched %d times", p, noblePrefetch, n)
		}
	}

	st := xattrStatus(t, cfg.Mountpoint)
	if st.Reads.Reads != 0 || st.Reads.BlockMisses != 0 {
		t.Errorf("reads %+v: prefetching must not need any", st.Reads)
	}
	want := noble.Size + sq.Size
	pf := st.Prefetch
	if pf.BytesFetched != want || pf.FilesFetched != 2 || pf.FilesTotal != 2 || pf.BytesDone != want || pf.BytesTotal != want ||
		pf.RateLimit != 1<<30 || pf.Failed != 0 || strings.Join(pf.Globs, ":") != noblePrefetch {
		t.Errorf("prefetch status %+v, want %d bytes of 2 files fetched", pf, want)
	}
	text := metrics(t, m)
	for _, line := range []string{
		"bootfs_rack_prefetch_bytes_total " + strconv.FormatFloat(float64(want), 'g', -1, 64),
		"bootfs_rack_prefetch_files_total 2",
		"bootfs_rack_prefetch_pending_bytes 0",
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("metrics lack %q", line)
		}
	}

	// The prefetched files read as they are, from the cache.
	mustRead(t, filepath.Join(cfg.Mountpoint, sq.Path), fl[sq.Path])
	if st := xattrStatus(t, cfg.Mountpoint); st.Reads.BlockMisses != 0 {
		t.Errorf("reading the prefetched file missed %d blocks", st.Reads.BlockMisses)
	}
	for i := range int64(6) {
		if n := r.BlockRequests(sq.SHA256, i); n != 1 {
			t.Errorf("block %d of the prefetched squashfs fetched %d times, want once", i, n)
		}
	}
}

// TestPrefetchRateBound: prefetching a file takes at least its size over
// prefetch_rate (within a generous tolerance, as a ratio).
func TestPrefetchRateBound(t *testing.T) {
	r := regiontest.New(t, testSecret)
	const rate = 8 << 20
	fl := files{"ubuntu/amd64/ga-24.04/noble/stable/squashfs": randBytes(6, 24*digest.BlockSize)}
	tr := fl.tree(r, "g1")
	r.SetTree(tr)
	cfg := testConfig(t, r.URL())
	cfg.Prefetch = []string{noblePrefetch}
	cfg.PrefetchRate = rate
	begin := time.Now()
	m := start(t, cfg)
	e := tr.Files[0]
	testpoll.Until(t, 60*time.Second, "the squashfs prefetched", func() bool {
		return cachedBlocks(m, e.SHA256, e.Size) == 24
	})
	took := time.Since(begin)
	ratio := float64(e.Size) / took.Seconds() / rate
	t.Logf("prefetched %d bytes in %s: %.2f of prefetch_rate", e.Size, took.Round(time.Millisecond), ratio)
	// The pacer lets one block go ahead of the rate: 24/23 of it at most.
	if ratio > 1.2 {
		t.Errorf("prefetched at %.2f times prefetch_rate, want <= 1.2", ratio)
	}
	if ratio < 0.2 {
		t.Errorf("prefetched at only %.2f of prefetch_rate on loopback", ratio)
	}
	if st := xattrStatus(t, cfg.Mountpoint); st.Prefetch.BytesPerSecond <= 0 || st.Prefetch.BytesPerSecond > 1.2*rate {
		t.Errorf("status rate %.0f B/s, want within (0, 1.2 x %d]", st.Prefetch.BytesPerSecond, rate)
	}
}

// TestPrefetchYieldsToReads: a read of another file while a slow prefetch
// runs completes long before the prefetch does, and the prefetch shows
// in the status while it runs.
func TestPrefetchYieldsToReads(t *testing.T) {
	r := regiontest.New(t, testSecret)
	const rate = 2 << 20
	fl := files{
		"ubuntu/amd64/ga-24.04/noble/stable/squashfs": randBytes(7, 40*digest.BlockSize),
		"ubuntu/amd64/ga-22.04/jammy/stable/squashfs": randBytes(8, 16*digest.BlockSize),
	}
	tr := fl.tree(r, "g1")
	r.SetTree(tr)
	cfg := testConfig(t, r.URL())
	cfg.Prefetch = []string{noblePrefetch}
	cfg.PrefetchRate = rate
	m := start(t, cfg)
	noble := entryOf(t, tr, "ubuntu/amd64/ga-24.04/noble/stable/squashfs")
	testpoll.Until(t, 10*time.Second, "the prefetch under way", func() bool {
		st := xattrStatus(t, cfg.Mountpoint).Prefetch
		return st != nil && st.Current == noble.Path && st.CurrentDone > 0
	})

	jammy := "ubuntu/amd64/ga-22.04/jammy/stable/squashfs"
	t0 := time.Now()
	mustRead(t, filepath.Join(cfg.Mountpoint, jammy), fl[jammy])
	took := time.Since(t0)
	st := xattrStatus(t, cfg.Mountpoint)
	t.Logf("read 16 MiB in %s during a prefetch at %d B/s: %+v", took.Round(time.Millisecond), rate, st.Prefetch)
	if st.Prefetch.Current != noble.Path || st.Prefetch.FilesDone != 0 {
		t.Fatalf("the read finished only after the prefetch (status %+v)", st.Prefetch)
	}
	// At the prefetch rate, 16 MiB would take 8 s: the read must not be
	// paced or queued behind it.
	if limit := 16 * digest.BlockSize / rate * time.Second / 2; took > limit {
		t.Errorf("the read took %s, want < %s (half of what the prefetch rate would allow)", took, limit)
	}
	if st.Reads.BlockMisses == 0 {
		t.Error("the read was served without fetching: the test does not test anything")
	}
	if n := cachedBlocks(m, noble.SHA256, noble.Size); n >= 40 {
		t.Errorf("prefetch finished (%d blocks) before the read did", n)
	}
}

// TestPrefetchGivesUpFilesLargerThanTheCache: a matching file larger than
// cache_size is not fetched at all (it could never be held), and says so.
func TestPrefetchGivesUpFilesLargerThanTheCache(t *testing.T) {
	r := regiontest.New(t, testSecret)
	fl := files{"ubuntu/amd64/ga-24.04/noble/stable/squashfs": randBytes(9, 3*digest.BlockSize)}
	tr := fl.tree(r, "g1")
	r.SetTree(tr)
	cfg := testConfig(t, r.URL())
	cfg.CacheSize = 2 * digest.BlockSize
	cfg.Prefetch = []string{noblePrefetch}
	start(t, cfg)
	testpoll.Until(t, 10*time.Second, "the file given up", func() bool {
		st := xattrStatus(t, cfg.Mountpoint).Prefetch
		return st != nil && st.Failed == 1 && strings.Contains(st.LastError, "does not keep it")
	})
	if n := r.BlockRequests(tr.Files[0].SHA256, 0); n != 0 {
		t.Errorf("a file larger than the cache was fetched %d times", n)
	}
}

func TestConfigRefusesBadPrefetch(t *testing.T) {
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Prefetch = []string{"ubuntu/[amd64/*"} }, `glob "ubuntu/[amd64/*"`},
		{func(c *Config) { c.Prefetch = []string{""} }, "empty glob"},
		{func(c *Config) { c.PrefetchRate = -1 }, "negative"},
	} {
		cfg := Config{Regions: []string{"http://r"}, Mountpoint: os.TempDir()}
		tc.change(&cfg)
		if _, err := cfg.withDefaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("withDefaults = %v, want an error with %q", err, tc.want)
		}
	}
	cfg, err := Config{Regions: []string{"http://r"}, Mountpoint: os.TempDir(), Prefetch: []string{"/a/*"}}.withDefaults()
	if err != nil || cfg.PrefetchRate != DefaultPrefetchRate || cfg.Prefetch[0] != "a/*" {
		t.Errorf("defaults: %v %d %q", err, cfg.PrefetchRate, cfg.Prefetch)
	}
}

// TestPrefetchKeepsHotFiles: a prefetched file obeys cache_size and does
// not flush a file machines read more often: the prefetch is given up once
// the cache would keep its blocks only at the cost of its own.
func TestPrefetchKeepsHotFiles(t *testing.T) {
	r := regiontest.New(t, testSecret)
	hot := "ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"
	fl := files{hot: randBytes(10, 3*digest.BlockSize)}
	t1 := fl.tree(r, "g1")
	r.SetTree(t1)
	cfg := testConfig(t, r.URL())
	cfg.CacheSize = 8 * digest.BlockSize
	cfg.Prefetch = []string{noblePrefetch}
	cfg.NoPassthrough = true // every read reaches the cache
	m := start(t, cfg)
	// Read, then read again from the disk cache more than the policy's
	// window (a second) later (the reader's memory would serve a second
	// read through the mount): two reads, where a prefetched file counts
	// one.
	mustRead(t, filepath.Join(cfg.Mountpoint, hot), fl[hot])
	time.Sleep(1100 * time.Millisecond)
	h := entryOf(t, t1, hot)
	if _, ok := m.cache.Get(cache.Key{File: h.SHA256}, make([]byte, digest.BlockSize)); !ok {
		t.Fatal("the hot file's first block is not cached")
	}

	big := "ubuntu/amd64/ga-24.04/noble/stable/squashfs"
	fl[big] = randBytes(11, 7*digest.BlockSize)
	t2 := fl.tree(r, "g2")
	r.SetTree(t2)
	testpoll.Until(t, 20*time.Second, "the prefetch given up", func() bool {
		st := xattrStatus(t, cfg.Mountpoint).Prefetch
		return st != nil && st.Failed == 1
	})
	if n := cachedBlocks(m, h.SHA256, h.Size); n != 3 {
		t.Errorf("the hot file keeps %d of its 3 blocks after the prefetch", n)
	}
	if st := m.cache.Stats(); st.Used > st.Limit {
		t.Errorf("cache holds %d bytes, over its %d limit", st.Used, st.Limit)
	}
	b := entryOf(t, t2, big)
	if n := r.BlockRequests(b.SHA256, 6); n != 0 {
		t.Errorf("the prefetch fetched the last block of a file the cache cannot keep (%d times)", n)
	}
}

// TestPrefetchPausesForReads: while a read fetches from a slow region,
// prefetching (at a rate that would fetch its whole file in that time)
// waits: it fetches a small fraction of what its rate allows, and its
// status says it is paused.
func TestPrefetchPausesForReads(t *testing.T) {
	r := regiontest.New(t, testSecret)
	const rate = 32 << 20
	jammy := "ubuntu/amd64/ga-22.04/jammy/stable/squashfs"
	fl := files{
		"ubuntu/amd64/ga-24.04/noble/stable/squashfs": randBytes(12, 60*digest.BlockSize),
		jammy: randBytes(13, 24*digest.BlockSize),
	}
	tr := fl.tree(r, "g1")
	slow := entryOf(t, tr, jammy).SHA256.String()
	// Every request for the jammy file takes 150 ms more.
	target, _ := url.Parse(r.URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.Contains(req.URL.Path, slow) {
			time.Sleep(150 * time.Millisecond)
		}
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(proxy.Close)
	tr.Regions[0].URL = proxy.URL
	r.SetTree(tr)
	cfg := testConfig(t, proxy.URL)
	cfg.CacheSize = 128 << 20
	cfg.Prefetch = []string{noblePrefetch}
	cfg.PrefetchRate = rate
	start(t, cfg)
	testpoll.Until(t, 10*time.Second, "the prefetch under way", func() bool {
		st := xattrStatus(t, cfg.Mountpoint).Prefetch
		return st != nil && st.CurrentDone > 0
	})

	f, err := os.Open(filepath.Join(cfg.Mountpoint, jammy))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The first read also fetches the file's block digest list, which
	// is not a block fetch: measure from the first block on.
	buf := make([]byte, digest.BlockSize)
	n, err := io.ReadFull(f, buf)
	if err != nil {
		t.Fatal(err)
	}
	got := append([]byte(nil), buf[:n]...)
	before := xattrStatus(t, cfg.Mountpoint).Prefetch.BytesFetched
	t0 := time.Now()
	paused := false
	for {
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if !paused && xattrStatus(t, cfg.Mountpoint).Prefetch.Paused {
			paused = true
		}
		if err != nil {
			break
		}
	}
	took := time.Since(t0)
	during := xattrStatus(t, cfg.Mountpoint).Prefetch.BytesFetched - before
	if !bytes.Equal(got, fl[jammy]) {
		t.Fatalf("read %d bytes, not the file", len(got))
	}
	allowed := float64(rate) * took.Seconds()
	t.Logf("read 23 MiB in %s; prefetch fetched %d bytes meanwhile, %.2f of what its rate allows; paused seen: %v",
		took.Round(time.Millisecond), during, float64(during)/allowed, paused)
	if took < 300*time.Millisecond {
		t.Fatalf("the slow read took only %s: the test tests nothing", took)
	}
	if float64(during) > 0.25*allowed {
		t.Errorf("prefetch fetched %d bytes during a %s read, %.2f of its rate: it did not wait for the read", during, took, float64(during)/allowed)
	}
	if !paused {
		t.Error("the status never showed the prefetch paused during the read")
	}
}
