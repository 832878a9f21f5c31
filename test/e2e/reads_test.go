package e2e

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/testpoll"
)

// testConcurrentColdReaders: 50 readers of one cold file through the mount
// make the region serve each block once, and the file's bytes once in all:
// counted by a proxy in front of the region (per Range request) and by the
// region's own metrics.
func (g *rig) testConcurrentColdReaders(t *testing.T) {
	p := newProxy(t, g.regions[0].URL())
	m := g.mount(t, mountSpec{source: p.URL()})
	e := g.mustEntry(t, big2Path)
	regionBefore := g.regionBlobBytes(t, 0)

	const readers = 50
	var wg sync.WaitGroup
	errs := make([]error, readers)
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := os.ReadFile(m.path(big2Path))
			switch {
			case err != nil:
				errs[i] = err
			case digest.Of(b) != e.SHA256:
				errs[i] = fmt.Errorf("reader %d: %d bytes with the wrong sha256", i, len(b))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	ranges := p.rangesOf(e.SHA256.String())
	blocks := digest.BlockCount(e.Size, digest.BlockSize)
	for i := range blocks {
		lo := i * digest.BlockSize
		hi := min(lo+digest.BlockSize, e.Size) - 1
		if n := ranges[fmt.Sprintf("bytes=%d-%d", lo, hi)]; n != 1 {
			t.Errorf("block %d was fetched %d times", i, n)
		}
	}
	if len(ranges) != int(blocks) {
		t.Errorf("%d distinct Range requests for %d blocks: %v", len(ranges), blocks, ranges)
	}
	if got := p.blob(); got != e.Size {
		t.Errorf("the proxy passed %d blob bytes for a %d-byte file", got, e.Size)
	}
	if got := g.regionBlobBytes(t, 0) - regionBefore; got != e.Size {
		t.Errorf("region1 sent %d blob bytes for a %d-byte file (its metrics)", got, e.Size)
	}
}

// testCorruptBlock: a byte flipped in one region's stored copy never reaches
// a reader. The region checks every block before it sends it: it refuses
// the corrupt block, quarantines the file at once and fetches it again from
// a peer, so reads through it alone fail with EIO (never wrong bytes) until
// it holds a good copy again; with a healthy region beside it, the read
// completes with the right bytes.
func (g *rig) testCorruptBlock(t *testing.T) {
	e := g.mustEntry(t, big2Path)
	want := g.want(t, big2Path)
	const bad = 3 // the corrupted block
	off := int64(bad)*digest.BlockSize + 12345
	store := filepath.Join(g.regions[1].Storage, e.SHA256.String())
	writeByte := func(b byte) error {
		f, err := os.OpenFile(store, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteAt([]byte{b}, off)
		return err
	}
	if err := writeByte(want[off] ^ 0x40); err != nil {
		t.Fatal(err)
	}
	good := func() bool {
		b, err := os.ReadFile(store)
		return err == nil && digest.Of(b) == e.SHA256
	}
	t.Cleanup(func() {
		if !good() {
			_ = writeByte(want[off]) // the test failed before region2 healed itself
		}
	})

	// region2 alone: every read is right or fails with EIO; the corrupt
	// block fails.
	m := g.mount(t, mountSpec{source: g.regions[1].URL()})
	f, err := os.Open(m.path(big2Path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, digest.BlockSize)
	failed := 0
	for i := int64(0); i < digest.BlockCount(e.Size, digest.BlockSize); i++ {
		n, err := f.ReadAt(buf, i*digest.BlockSize)
		if err != nil && err != io.EOF {
			if !errors.Is(err, syscall.EIO) {
				t.Fatalf("read block %d: %v; want the right bytes or EIO", i, err)
			}
			failed++
			continue
		}
		if i == bad {
			t.Errorf("read of the corrupt block succeeded (%d bytes)", n)
		}
		sameBytes(t, fmt.Sprintf("block %d", i), buf[:n], want[i*digest.BlockSize:i*digest.BlockSize+int64(n)])
	}
	if failed == 0 {
		t.Errorf("no read failed")
	}
	// region2 quarantined its copy and fetches a good one from region1.
	testpoll.Until(t, 2*time.Minute, "region2 to hold a good copy again", good)

	// region2 first, region1 as well: the read completes, right.
	m2 := g.mount(t, mountSpec{source: g.regions[1].URL() + "," + g.regions[0].URL()})
	sameBytes(t, "read with a healthy region", readFile(t, m2.path(big2Path)), want)
	if st := m2.regionStatus(t, g.regions[1].URL()); st.VerifyFailures == 0 {
		t.Logf("region2 was not asked for the corrupt block this time (region1 measured faster)")
	}
}

// testSmallCache: with cache_size smaller than the files read, the cache
// stays within its limit (on disk too) and every read is still right.
func (g *rig) testSmallCache(t *testing.T) {
	const limit = 8 << 20
	m := g.mount(t, mountSpec{opts: []string{"cache_size=8M"}})
	for range 2 {
		for _, p := range []string{bigPath, big2Path, kernelPath} {
			sameBytes(t, p, readFile(t, m.path(p)), g.want(t, p))
			if st := m.status(t); st.Cache.Used > limit || st.Cache.Limit != limit {
				t.Fatalf("cache uses %d bytes of %d (limit %d)", st.Cache.Used, st.Cache.Limit, limit)
			}
		}
		// The second round reads through a fresh page cache.
		dropPageCache(t, m.path(bigPath), m.path(big2Path), m.path(kernelPath))
	}
	st := m.status(t)
	var once int64
	for _, p := range []string{bigPath, big2Path, kernelPath} {
		once += digest.BlockCount(g.mustEntry(t, p).Size, digest.BlockSize)
	}
	if st.Cache.Evictions == 0 || st.Reads.Fetches <= once {
		t.Errorf("cache %+v, reads %+v: expected evictions and refetches", st.Cache, st.Reads)
	}
	// Evicted blocks' slots are punched by the cache's disk worker, just
	// after the eviction: give it a moment before judging the disk.
	var du int64
	within := func() bool { du = dataBytes(t, filepath.Join(m.cacheDir, "files")); return du <= limit }
	deadline := time.Now().Add(10 * time.Second)
	for !within() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if du > limit {
		t.Errorf("the cache's blocks take %d bytes on disk, limit %d", du, limit)
	}
}

// testRemount: a second mount of the same cache directory serves what the
// first one cached without asking any region for a byte: the files, wholly
// cached, are opened in FUSE passthrough mode, so the kernel reads the
// cache's files directly and no read reaches bootfs. A third mount with
// no_passthrough serves them through bootfs from the disk cache.
func (g *rig) testRemount(t *testing.T) {
	p := newProxy(t, g.regions[0].URL())
	m := g.mount(t, mountSpec{source: p.URL()})
	files := []string{kernelPath, initrdPath, bigPath, loaderPath}
	for _, f := range files {
		sameBytes(t, f, readFile(t, m.path(f)), g.want(t, f))
	}
	fetched := p.blob()
	if fetched == 0 {
		t.Fatal("the first mount fetched nothing")
	}
	m.unmount(t)

	m2 := g.mount(t, mountSpec{source: p.URL(), cacheDir: m.cacheDir})
	for _, f := range files {
		sameBytes(t, f+" after remount", readFile(t, m2.path(f)), g.want(t, f))
	}
	if got := p.blob() - fetched; got != 0 {
		t.Errorf("the remount fetched %d more blob bytes", got)
	}
	st := m2.status(t)
	if st.Reads.Fetches != 0 || st.Cache.Passthrough != int64(len(files)) || st.Reads.Reads != 0 {
		t.Errorf("after remount: %d fetches, %d passthrough opens (want %d), %d FUSE reads (want 0)",
			st.Reads.Fetches, st.Cache.Passthrough, len(files), st.Reads.Reads)
	}
	m2.unmount(t)

	m3 := g.mount(t, mountSpec{source: p.URL(), cacheDir: m.cacheDir, opts: []string{"no_passthrough"}})
	for _, f := range files {
		sameBytes(t, f+" after remount without passthrough", readFile(t, m3.path(f)), g.want(t, f))
	}
	st = m3.status(t)
	if got := p.blob() - fetched; got != 0 || st.Cache.Passthrough != 0 || st.Reads.BlockHits == 0 {
		t.Errorf("no_passthrough: %d bytes fetched, %d passthrough opens, %d block hits", got, st.Cache.Passthrough, st.Reads.BlockHits)
	}
}

// testRegionKilled: the host of region1 dies (its connections cut, then the
// region stopped) while a file is being read from it; the read completes
// from region2 with the right bytes. It stops region1: it runs last.
func (g *rig) testRegionKilled(t *testing.T) {
	pa, pb := newProxy(t, g.regions[0].URL()), newProxy(t, g.regions[1].URL())
	// Slow both so that the read is surely in progress when region1 dies.
	pa.bytesPerSec.Store(1 << 20)
	pb.bytesPerSec.Store(1 << 20)
	m := g.mount(t, mountSpec{source: pa.URL() + "," + pb.URL()})
	e := g.mustEntry(t, bigPath)

	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := os.ReadFile(m.path(bigPath))
		done <- result{b, err}
	}()
	// Wait until region1 has delivered a few whole blocks (more are on the
	// way: the reader fetches several blocks ahead).
	testpoll.Until(t, 30*time.Second, "region1 to deliver 3 whole blocks", func() bool {
		return m.regionStatus(t, pa.URL()).BytesFetched >= 3*digest.BlockSize
	})
	pa.kill()
	g.regions[0].Stop()
	pb.bytesPerSec.Store(0)
	killedAt := pa.blob()

	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the read did not complete after region1 died")
	}
	if r.err != nil {
		t.Fatalf("read with region1 dead: %v", r.err)
	}
	sameBytes(t, "read across the region's death", r.b, g.want(t, bigPath))
	if killedAt >= e.Size {
		t.Fatalf("region1 had served all %d bytes before it died: the test proved nothing", killedAt)
	}
	ra, rb := m.regionStatus(t, pa.URL()), m.regionStatus(t, pb.URL())
	if ra.Errors == 0 || rb.BytesFetched == 0 {
		t.Errorf("region1 %+v, region2 %+v: expected errors from region1 and bytes from region2", ra, rb)
	}
	t.Logf("region1 served %d bytes before dying, region2 %d bytes", ra.BytesFetched, rb.BytesFetched)
}

// dropPageCache drops the kernel's cached pages of files.
func dropPageCache(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
	}
}

// dataBytes sums the bytes of data held by the regular files below dir:
// their data extents (found with SEEK_DATA and SEEK_HOLE), not their sizes
// (the cache's files are sparse) and not st_blocks, which also counts the
// file system's own metadata (an ext4 file with many holes gets an extent
// tree block: 4 KiB that no cache limit could account for).
func dataBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fd := int(f.Fd())
		for off := int64(0); ; {
			start, err := unix.Seek(fd, off, unix.SEEK_DATA)
			if errors.Is(err, unix.ENXIO) {
				return nil
			}
			if err != nil {
				return err
			}
			end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
			if err != nil {
				return err
			}
			n += end - start
			off = end
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testCorruptCacheEntry: a cached block damaged on disk while bootfs was
// not running is detected when read after the remount, dropped, and
// fetched again; the reader gets the right bytes.
func (g *rig) testCorruptCacheEntry(t *testing.T) {
	p := newProxy(t, g.regions[0].URL())
	m := g.mount(t, mountSpec{source: p.URL()})
	want := g.want(t, bigPath)
	sameBytes(t, bigPath, readFile(t, m.path(bigPath)), want)
	m.unmount(t)

	// Block 5 of the file's content file in the cache.
	e := g.mustEntry(t, bigPath)
	damage.FlipByte(t, filepath.Join(m.cacheDir, "files", e.SHA256.String()[:2], e.SHA256.String()), 5*digest.BlockSize+777)

	before := p.blob()
	m2 := g.mount(t, mountSpec{source: p.URL(), cacheDir: m.cacheDir})
	sameBytes(t, bigPath+" after the cache was damaged", readFile(t, m2.path(bigPath)), want)
	if got := p.blob() - before; got != digest.BlockSize {
		t.Errorf("the remount fetched %d bytes, want exactly the damaged block (%d)", got, digest.BlockSize)
	}
	// The open checked the whole file before passthrough, found block 5
	// bad and served the file through bootfs instead.
	if st := m2.status(t); st.Cache.Corrupt != 1 || st.Cache.Passthrough != 0 {
		t.Errorf("cache status %+v: want one corrupt entry dropped, no passthrough open", st.Cache)
	}
}

// testCacheDiskFull: a cache directory on a file system smaller than the
// files read (a 4 MiB tmpfs, cache_size=64M): reads stay right, served
// through from the regions, and the status says the cache is failing.
func (g *rig) testCacheDiskFull(t *testing.T) {
	dir := t.TempDir()
	run(t, "mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir)
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	m := g.mount(t, mountSpec{cacheDir: filepath.Join(dir, "cache"), opts: []string{"cache_size=64M"}})
	for _, p := range []string{bigPath, kernelPath, big2Path} {
		sameBytes(t, p+" with the cache disk full", readFile(t, m.path(p)), g.want(t, p))
	}
	st := m.status(t)
	if st.Cache.DiskErrors == 0 || st.Reads.CachePutErrors == 0 || st.Reads.ReadErrors != 0 {
		t.Errorf("cache %+v reads %+v: want disk errors and failed puts, no read errors", st.Cache, st.Reads)
	}
	if !strings.Contains(m.log(), "block cache degraded") {
		t.Errorf("no log line about the degraded cache:\n%s", m.log())
	}
}
