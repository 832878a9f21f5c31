package cache

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

func markerExists(t *testing.T, c *Cache, d digest.Digest) bool {
	t.Helper()
	_, err := os.Stat(c.markerPath(d))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestFragileAfterCrash: a file handed out by Backing when the process
// died (the kernel may go on reading it) is never punched by the next
// process: eviction unlinks it whole, and the old descriptor (the kernel's
// reader) reads the right bytes throughout.
func TestFragileAfterCrash(t *testing.T) {
	dir := t.TempDir()
	c := open(t, Options{Dir: dir, Limit: 3 * digest.BlockSize})
	size := int64(2 * digest.BlockSize)
	d, want := putFile(t, c, "initrd", size)
	fd, release := mustBacking(t, c, d, size)
	defer release() // after the crash: only closes the descriptor
	if !markerExists(t, c, d) {
		t.Fatal("no marker before the descriptor was handed out")
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	crash(t, c)

	c = open(t, Options{Dir: dir, Limit: 3 * digest.BlockSize})
	if !c.fragile[d] {
		t.Fatal("the file handed out before the crash is not fragile")
	}
	// A block of it discarded: not punched.
	c.mu.Lock()
	e := *c.entries[Key{File: d, Index: 1}]
	c.mu.Unlock()
	c.readFailed(e, errChecksum)
	if got := readFD(t, fd, int(size)); !bytes.Equal(got, want) {
		t.Fatal("a discarded block of a fragile file changed under its reader")
	}
	// Eviction takes the whole file, by unlinking it.
	putFile(t, c, "other", 3*digest.BlockSize)
	if c.Contains(Key{File: d, Index: 0}) || c.fragile[d] || markerExists(t, c, d) {
		t.Fatal("the fragile file was not evicted whole, or its marker stayed")
	}
	if _, err := os.Stat(c.filePath(d)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the fragile file was not unlinked: %v", err)
	}
	if got := readFD(t, fd, int(size)); !bytes.Equal(got, want) {
		t.Fatal("the fragile file's reader saw other bytes")
	}
}

// TestFragileMarkers: a marker stays while a Backing holder exists (also
// across Close, as a detached mount's readers may outlive the process),
// and goes at the Flush after the last holder let go; markers of another
// boot are removed at Open.
func TestFragileMarkers(t *testing.T) {
	dir := t.TempDir()
	c := open(t, Options{Dir: dir})
	d, _ := putFile(t, c, "kernel", 5000)
	_, release := mustBacking(t, c, d, 5000)
	if err := c.Flush(); err != nil || !markerExists(t, c, d) {
		t.Fatalf("marker gone while held (flush: %v)", err)
	}
	if err := c.Close(); err != nil || !markerExists(t, c, d) {
		t.Fatalf("marker gone at Close while held (close: %v)", err)
	}
	release()
	c = open(t, Options{Dir: dir})
	if !c.fragile[d] {
		t.Fatal("not fragile after a Close with a holder left")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// A marker written in another boot is stale.
	if err := os.WriteFile(c.markerPath(d), []byte("not-this-boot\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c = open(t, Options{Dir: dir})
	if c.fragile[d] || markerExists(t, c, d) {
		t.Fatal("a marker of another boot was honoured")
	}
	_, release = mustBacking(t, c, d, 5000)
	release()
	if err := c.Flush(); err != nil || markerExists(t, c, d) {
		t.Fatalf("marker left after the last holder let go (flush: %v)", err)
	}
}

// TestFragileStaysWhileOnDisk: a Put into a fragile file (a block of it was
// discarded and is fetched again) holds the file; eviction passes the file
// over meanwhile instead of dropping its entries while the file stays, and
// the file stays fragile for as long as it is on disk.
func TestFragileStaysWhileOnDisk(t *testing.T) {
	dir := t.TempDir()
	c := open(t, Options{Dir: dir, Limit: 3 * digest.BlockSize})
	size := int64(2 * digest.BlockSize)
	d, want := putFile(t, c, "initrd", size)
	fd, release := mustBacking(t, c, d, size)
	defer release()
	crash(t, c)

	c = open(t, Options{Dir: dir, Limit: 3 * digest.BlockSize})
	k1 := Key{File: d, Index: 1}
	c.mu.Lock()
	e := *c.entries[k1]
	c.mu.Unlock()
	c.readFailed(e, errChecksum) // discarded, not punched
	for i := range int64(2) {
		k := Key{File: key("other", 0).File, Index: i}
		mustPut(t, c, k, block(k, digest.BlockSize))
	}
	// The cache is full (d/0, other/0, other/1): storing d/1 again must
	// evict, and must not take the fragile file it writes into.
	mustPut(t, c, k1, want[digest.BlockSize:])
	if !c.fragile[d] {
		t.Fatal("a fragile file still on disk is no longer fragile")
	}
	for i := range int64(2) {
		k := Key{File: key("more", 0).File, Index: i}
		mustPut(t, c, k, block(k, digest.BlockSize))
	}
	if _, err := os.Stat(c.filePath(d)); err == nil && !c.fragile[d] {
		t.Fatal("a fragile file still on disk is no longer fragile")
	}
	if got := readFD(t, fd, int(size)); !bytes.Equal(got, want) {
		t.Fatal("the fragile file's earlier reader saw other bytes")
	}
}
