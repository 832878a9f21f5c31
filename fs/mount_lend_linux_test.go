package fs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/testskip"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/cache"
	"github.com/bootfs/bootfs/rack/client"
	"github.com/bootfs/bootfs/rack/client/regiontest"
	"github.com/bootfs/bootfs/rack/reader"
)

// lendRig is the rack's read path over a real FUSE mount: a region
// (regiontest), the client, the on-disk block cache and the Reader, with
// passthrough off so that every read reaches bootfs.
type lendRig struct {
	region *regiontest.Region
	cl     *client.Client
	cache  *cache.Cache
	dir    string
	data   []byte
	d      digest.Digest
}

const lendPath = "ubuntu/amd64/ga-22.04/jammy/stable/squashfs"

func newLendRig(t *testing.T, verify bool) *lendRig {
	t.Helper()
	requireFUSE(t)
	g := &lendRig{region: regiontest.New(t, "s3cret")}
	g.data = regiontest.RandomBytes(5*digest.BlockSize+12345, 42)
	g.d = g.region.Add(g.data)
	cl, err := client.New(client.Options{Regions: []string{g.region.URL()}, Secret: "s3cret",
		StallTimeout: 5 * time.Second, BackoffInitial: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	g.cl = cl
	g.dir = t.TempDir()
	g.cache, err = cache.Open(cache.Options{Dir: g.dir, VerifyHits: verify})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.cache.Close() })
	return g
}

// mount mounts a new Root over a new Reader (nothing in its memory) on the
// rig's cache, reads the file through it with 1 MiB reads, checks the
// bytes and returns the Root's counters. The mount is gone on return, and
// with it the mount's page cache.
func (g *lendRig) read(t *testing.T, verify bool) Stats {
	t.Helper()
	r := reader.NewReader(g.cache, g.cl, reader.ReaderOptions{VerifyCacheHits: verify})
	defer r.Close()
	root := NewRoot(r, Options{})
	mustUpdate(t, root, &wire.Tree{Generation: "g1", Files: []wire.Entry{{Path: lendPath, SHA256: g.d, Size: int64(len(g.data))}}})
	dir := t.TempDir()
	srv, err := Mount(dir, root, MountOptions{})
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	defer unmount(t, srv)
	f, err := os.Open(filepath.Join(dir, lendPath))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []byte
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if n == 0 || err != nil {
			break
		}
	}
	if !bytes.Equal(got, g.data) {
		i := 0
		for i < min(len(got), len(g.data)) && got[i] == g.data[i] {
			i++
		}
		t.Fatalf("read %d bytes through the mount, not the file's %d bytes: first difference at %d (block %d)", len(got), len(g.data), i, i/digest.BlockSize)
	}
	return root.Stats()
}

// contentFile is the cache's content file of the rig's file.
func (g *lendRig) contentFile(t *testing.T) string {
	t.Helper()
	h := g.d.String()
	return filepath.Join(g.dir, "files", h[:2], h)
}

// TestMountLendsCachedReads: a cold read through a real mount is answered
// from the verified blocks in memory without a copy, a read of the cached
// file by a fresh Reader, once its pages are in the page cache, is spliced
// from the cache's content file, and a
// cached block damaged under the page cache (written with O_DIRECT, so
// its chunk is still trusted but its pages are not in the page cache) is
// not spliced but caught by its CRC, dropped and fetched again.
func TestMountLendsCachedReads(t *testing.T) {
	g := newLendRig(t, false)
	st := g.read(t, false)
	if st.LentReads == 0 || st.SplicedReads != 0 {
		t.Errorf("cold read: %d of %d reads lent, %d spliced; want some lent from memory, none spliced", st.LentReads, st.Reads, st.SplicedReads)
	}
	served := g.region.Served()

	// The cache wrote the blocks with O_DIRECT: the first read of the
	// cached file reads them from the disk, checking their CRCs, and
	// leaves them in the page cache; the next one is spliced from there.
	g.read(t, false)
	st = g.read(t, false)
	if st.SplicedReads == 0 {
		t.Errorf("read of the cached file, its pages resident: %d of %d reads spliced, want some", st.SplicedReads, st.Reads)
	}
	if g.region.Served() != served {
		t.Errorf("reads of the cached file fetched %d bytes from the region", g.region.Served()-served)
	}

	flipDirect(t, g.contentFile(t), 2*digest.BlockSize+777)
	st = g.read(t, false)
	if cs := g.cache.Stats(); cs.Corrupt != 1 {
		t.Errorf("cache stats %+v: want the damaged block found corrupt once", cs)
	}
	if got := g.region.Served() - served; got != digest.BlockSize {
		t.Errorf("read after the damage fetched %d bytes, want the damaged block (%d)", got, digest.BlockSize)
	}
	t.Logf("after damage: %d reads, %d lent, %d spliced", st.Reads, st.LentReads, st.SplicedReads)
}

// TestMountVerifyCacheNeverSplices: with verify_cache (the cache checks
// every chunk, the Reader hashes every block it loads from the cache),
// nothing is spliced from the cache, and a block damaged through the page
// cache, which a trusted chunk would let through, is caught and fetched
// again.
func TestMountVerifyCacheNeverSplices(t *testing.T) {
	g := newLendRig(t, true)
	g.read(t, true)
	served := g.region.Served()
	damage.FlipByte(t, g.contentFile(t), 3*digest.BlockSize+5)
	st := g.read(t, true)
	if st.SplicedReads != 0 {
		t.Errorf("verify_cache: %d reads spliced from the cache, want none", st.SplicedReads)
	}
	if got := g.region.Served() - served; got != digest.BlockSize {
		t.Errorf("read after the damage fetched %d bytes, want the damaged block (%d)", got, digest.BlockSize)
	}
}

// flipDirect inverts the byte at off on the disk with O_DIRECT I/O, which
// also drops the page from the page cache: what the medium rotting under
// a file looks like to the next read.
func flipDirect(t *testing.T, path string, off int64) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_DIRECT, 0)
	if err != nil {
		// In CI (BOOTFS_TEST_REQUIRE_ALL) this fails instead: the damage
		// test must run there.
		testskip.Skipf(t, "O_DIRECT unsupported for %s: %v", path, err)
	}
	defer unix.Close(fd)
	const page = 4096
	raw := make([]byte, 2*page)
	// An aligned page inside raw.
	shift := (page - int(uintptr(unsafe.Pointer(&raw[0]))%page)) % page
	buf := raw[shift : shift+page]
	base := off &^ (page - 1)
	if n, err := unix.Pread(fd, buf, base); err != nil || n != page {
		t.Fatalf("O_DIRECT read of %s: %d bytes, %v", path, n, err)
	}
	buf[off-base] ^= 0xff
	if n, err := unix.Pwrite(fd, buf, base); err != nil || n != page {
		t.Fatalf("O_DIRECT write of %s: %d bytes, %v", path, n, err)
	}
	// The page is no longer cached (O_DIRECT writes invalidate it); make
	// sure of it for the file system at hand.
	unix.Fadvise(fd, base, page, unix.FADV_DONTNEED)
}
