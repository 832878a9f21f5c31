package cache

import (
	"bytes"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/testskip"
)

// alignedCopy returns a copy of b in a buffer aligned for O_DIRECT.
func alignedCopy(b []byte) []byte {
	buf := make([]byte, len(b)+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(&buf[0]))%directAlign)) % directAlign
	out := buf[skip : skip+len(b)]
	copy(out, b)
	return out
}

// pagesIn reports, page by page, whether bytes [off, off+n) of the file at
// path are in the page cache (mincore; reads nothing).
func pagesIn(t *testing.T, path string, off int64, n int) (first, last bool) {
	t.Helper()
	f, err := openBlock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(f.fd)
	first, err = resident(f.fd, off, int(pageSize))
	if err != nil {
		t.Fatal(err)
	}
	lastPage := (off + int64(n) - 1) &^ (pageSize - 1)
	last, err = resident(f.fd, lastPage, 1)
	if err != nil {
		t.Fatal(err)
	}
	return first, last
}

// TestPutWritesDirect: by default a block goes to the disk with O_DIRECT,
// leaving no copy in the page cache (the cold read's largest cost before),
// and reads back exactly; a last block of a file whose length is not a
// multiple of 4 KiB has its tail written through the page cache.
// BufferedWrites keeps the old behaviour.
func TestPutWritesDirect(t *testing.T) {
	for _, tc := range []struct {
		name     string
		buffered bool
		size     int
	}{
		{"direct full block", false, digest.BlockSize},
		{"direct with a tail", false, digest.BlockSize - 100},
		{"buffered", true, digest.BlockSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := open(t, Options{BufferedWrites: tc.buffered})
			requireDirect(t, c.dir)
			k := key(tc.name, 3)
			want := block(k, tc.size)
			mustPut(t, c, k, alignedCopy(want))
			path, off := blockPath(t, c, k)
			s := c.Stats()
			first, last := pagesIn(t, path, off, tc.size)
			switch {
			case tc.buffered && (s.BufferedWrites != 1 || s.DirectWrites != 0 || !first || !last):
				t.Fatalf("buffered: stats %+v, first page resident %v, last %v; want 1 buffered write, both resident", s, first, last)
			case !tc.buffered && (s.DirectWrites != 1 || s.BufferedWrites != 0 || first):
				t.Fatalf("direct: stats %+v, first page resident %v; want 1 direct write, not resident", s, first)
			case !tc.buffered && last != (tc.size%directAlign != 0):
				t.Fatalf("direct, %d bytes: last page resident %v; only an unaligned tail goes through the page cache", tc.size, last)
			}
			mustGet(t, c, k, want)
			// Read from the disk, not memory: the bytes are on it.
			dropPageCache(t, path)
			mustGet(t, c, k, want)
		})
	}
}

// TestPutUnalignedBufferWritesBuffered: a buffer O_DIRECT cannot take is
// written through the page cache, correctly, and direct writes stay on.
func TestPutUnalignedBufferWritesBuffered(t *testing.T) {
	c := open(t, Options{})
	requireDirect(t, c.dir)
	k := key("unaligned", 0)
	want := block(k, digest.BlockSize)
	buf := alignedCopy(append([]byte{0}, want...))[1:]
	mustPut(t, c, k, buf)
	if s := c.Stats(); s.BufferedWrites != 1 || s.DirectWrites != 0 || !c.direct.Load() {
		t.Fatalf("stats %+v, direct %v; want one buffered write and direct writes still on", s, c.direct.Load())
	}
	got := make([]byte, digest.BlockSize)
	if n, ok := c.Get(k, got); !ok || n != len(want) || !bytes.Equal(got, want) {
		t.Fatalf("Get: %d bytes, %v, equal %v", n, ok, bytes.Equal(got[:n], want))
	}
}

// requireDirect skips the test where dir's file system refuses O_DIRECT
// (TMPDIR on a tmpfs before Linux 6.6); CI requires it to run.
func requireDirect(t *testing.T, dir string) {
	t.Helper()
	fd, err := unix.Open(dir+"/direct-probe", unix.O_WRONLY|unix.O_CREAT|unix.O_DIRECT|unix.O_CLOEXEC, 0o644)
	if err == unix.EINVAL {
		testskip.Skipf(t, "the file system of %s refuses O_DIRECT (TMPDIR on an old tmpfs?)", dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	unix.Unlink(dir + "/direct-probe")
}
