package cache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/digest"
)

// putFile caches every block of a file of size bytes named name, flushes,
// and returns its digest (the test's stand-in for a sha256) and bytes.
func putFile(t *testing.T, c *Cache, name string, size int64) (digest.Digest, []byte) {
	t.Helper()
	d := key(name, 0).File
	var all []byte
	for i := int64(0); i*digest.BlockSize < size; i++ {
		k := Key{File: d, Index: i}
		b := block(k, int(min(digest.BlockSize, size-i*digest.BlockSize)))
		mustPut(t, c, k, b)
		all = append(all, b...)
	}
	if err := c.Flush(); err != nil { // Backing hands out synced blocks only
		t.Fatal(err)
	}
	return d, all
}

// mustBacking is Backing, failing the test if it says no.
func mustBacking(t *testing.T, c *Cache, d digest.Digest, size int64) (fd int, release func()) {
	t.Helper()
	fd, release, ok := c.Backing(d, size)
	if !ok {
		t.Fatalf("Backing(%s, %d) said no", d.Short(12), size)
	}
	return fd, release
}

// readFD reads n bytes of fd from offset 0.
func readFD(t *testing.T, fd int, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if err := (blockFile{fd: fd, path: "backing"}).readFull(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBackingWholeFile(t *testing.T) {
	c := open(t, Options{})
	size := int64(3*digest.BlockSize + 777)
	d, want := putFile(t, c, "kernel", size)
	fd, release := mustBacking(t, c, d, size)
	if got := readFD(t, fd, int(size)); !bytes.Equal(got, want) {
		t.Fatal("the backing file's bytes differ from the blocks put")
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size != size {
		t.Fatalf("backing file size %d (%v), want %d", st.Size, err, size)
	}
	release()
	release() // a second call is harmless
	if err := unix.Fstat(fd, &st); err == nil {
		t.Fatal("release left the descriptor open")
	}
	if s := c.Stats(); s.Backings != 1 {
		t.Fatalf("Stats = %+v", s)
	}
	// One block missing: no.
	c.mu.Lock()
	c.removeLocked(c.entries[Key{File: d, Index: 2}])
	c.mu.Unlock()
	if _, _, ok := c.Backing(d, size); ok {
		t.Fatal("Backing of a file missing a block said yes")
	}
	if _, _, ok := c.Backing(d, size+1); ok {
		t.Fatal("Backing with the wrong size said yes")
	}
}

// TestBackingChecksAfterReopen: after a restart every chunk is untrusted;
// Backing checks them all, refuses a file with a corrupt block (discarding
// it) and hands out the file once the block is stored again.
func TestBackingChecksAfterReopen(t *testing.T) {
	dir := t.TempDir()
	c := open(t, Options{Dir: dir})
	size := int64(4 * digest.BlockSize)
	d, want := putFile(t, c, "initrd", size)
	path, off := blockPath(t, c, Key{File: d, Index: 2})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	damage.FlipByte(t, path, off+5)

	c = open(t, Options{Dir: dir})
	if _, _, ok := c.Backing(d, size); ok {
		t.Fatal("Backing handed out a file with a corrupt block")
	}
	if s := c.Stats(); s.Corrupt != 1 || s.Blocks != 3 {
		t.Fatalf("Stats = %+v", s)
	}
	k := Key{File: d, Index: 2}
	mustPut(t, c, k, want[2*digest.BlockSize:3*digest.BlockSize])
	if _, _, ok := c.Backing(d, size); ok {
		t.Fatal("Backing handed out a block not fsynced yet")
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	fd, release := mustBacking(t, c, d, size)
	defer release()
	if got := readFD(t, fd, int(size)); !bytes.Equal(got, want) {
		t.Fatal("the backing file's bytes differ")
	}
	c.mu.Lock()
	for i := range int64(4) {
		if e := c.entries[Key{File: d, Index: i}]; e.trusted != allChunks {
			t.Errorf("block %d not trusted after the check: %b", i, e.trusted)
		}
	}
	c.mu.Unlock()
}

// TestBackingPinsAgainstEviction: blocks handed out are in use: eviction
// passes them over (a Put that needs their room fails with ErrNoRoom) and
// their bytes stay intact; after release they are evicted as usual.
func TestBackingPinsAgainstEviction(t *testing.T) {
	c := open(t, Options{Limit: 2 * digest.BlockSize})
	size := int64(2 * digest.BlockSize)
	d, want := putFile(t, c, "squashfs", size)
	fd, release := mustBacking(t, c, d, size)
	o := key("other", 0)
	if err := c.Put(o, block(o, digest.BlockSize)); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("Put needing the room of pinned blocks: %v, want ErrNoRoom", err)
	}
	if !c.Contains(Key{File: d, Index: 0}) || !c.Contains(Key{File: d, Index: 1}) {
		t.Fatal("pinned blocks evicted")
	}
	if got := readFD(t, fd, int(size)); !bytes.Equal(got, want) {
		t.Fatal("pinned blocks changed under their holder")
	}
	release()
	putFile(t, c, "other", 2*digest.BlockSize) // evicts both blocks of d
	for name := range blockFiles(t, c.dir) {
		if bytes.Contains([]byte(name), []byte(d.String())) {
			t.Fatalf("%s still on disk after release", name)
		}
	}
}

func TestBackingRefusedWithVerifyHits(t *testing.T) {
	c := open(t, Options{VerifyHits: true})
	d, _ := putFile(t, c, "f", 1000)
	if _, _, ok := c.Backing(d, 1000); ok {
		t.Fatal("Backing said yes with VerifyHits")
	}
}

// TestBackingTruncatedUnderIt: a content file cut short after Open is
// refused by Backing, and its last block discarded.
func TestBackingTruncatedUnderIt(t *testing.T) {
	dir := t.TempDir()
	c := open(t, Options{Dir: dir})
	size := int64(3 * digest.BlockSize)
	d, _ := putFile(t, c, "truncated", size)
	path, _ := blockPath(t, c, Key{File: d, Index: 0})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, Options{Dir: dir})
	if err := os.Truncate(path, digest.BlockSize+digest.BlockSize/2); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c.Backing(d, size); ok {
		t.Fatal("Backing handed out a truncated file")
	}
	if s := c.Stats(); s.Corrupt == 0 || c.Contains(Key{File: d, Index: 1}) && c.Contains(Key{File: d, Index: 2}) {
		t.Fatalf("Stats = %+v: the truncated block was not discarded", s)
	}
}

// TestCheckMappedFault: a mapped block past the end of its file faults; the
// fault is caught and reported as a truncated block.
func TestCheckMappedFault(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 2*digest.BlockSize), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, 2*digest.BlockSize, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	if err := os.Truncate(p, digest.BlockSize); err != nil {
		t.Fatal(err)
	}
	e := &entry{key: Key{Index: 1}, size: digest.BlockSize}
	if err := checkMapped(m[digest.BlockSize:], e); !errors.Is(err, errTruncated) {
		t.Fatalf("checkMapped of a block past the end = %v, want errTruncated", err)
	}
}

// TestNoRoomWithoutEvicting: when the pinned bytes leave no room for a
// block, Put fails with ErrNoRoom without evicting the unpinned blocks it
// could not use anyway.
func TestNoRoomWithoutEvicting(t *testing.T) {
	c := open(t, Options{Limit: 3 * digest.BlockSize})
	size := int64(2*digest.BlockSize + digest.BlockSize/2)
	d, _ := putFile(t, c, "squashfs", size)
	_, release := mustBacking(t, c, d, size)
	defer release()
	y := key("y", 0)
	mustPut(t, c, y, block(y, 256<<10))
	big := key("big", 0)
	if err := c.Put(big, block(big, digest.BlockSize)); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("Put with no room: %v, want ErrNoRoom", err)
	}
	if !c.Contains(y) {
		t.Fatal("a block was evicted by a Put that failed anyway")
	}
}
