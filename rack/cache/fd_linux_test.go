package cache

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
)

// TestLendFD: a block this process wrote is lent to load at its offset in
// the content file; nothing is lent with VerifyHits, when load fails, or
// when the chunks were distrusted while load ran (a read checking them
// from the disk); every loan leaves the block unpinned once released.
func TestLendFD(t *testing.T) {
	data := bytes.Repeat([]byte("bootfs lend "), digest.BlockSize/12)
	k := Key{File: digest.Digest(sha256.Sum256([]byte("lend"))), Index: 2}

	c := open(t, Options{Dir: t.TempDir()})
	if err := c.Put(k, data); err != nil {
		t.Fatal(err)
	}
	var buf []byte
	readLent := func(fd int, off int64) bool {
		buf = make([]byte, 5000)
		n, err := unix.Pread(fd, buf, off)
		return err == nil && n == len(buf)
	}
	// The first read adopts the content file's descriptor, which loans use,
	// and (the block was written with O_DIRECT) brings its pages into the
	// page cache, checked.
	if _, ok := c.ReadAt(k, make([]byte, len(data)), 0); !ok {
		t.Fatal("ReadAt of a block just Put missed")
	}
	release, ok := c.LendFD(k, 70000, 5000, readLent)
	if !ok {
		t.Fatal("LendFD of a block just Put refused")
	}
	if !bytes.Equal(buf, data[70000:75000]) {
		t.Error("the lent range is not the block's bytes at that offset")
	}
	release()

	if rel, ok := c.LendFD(k, 0, 100, func(int, int64) bool { return false }); ok {
		rel()
		t.Error("LendFD succeeded though load failed")
	}
	distrust := func(int, int64) bool {
		c.mu.Lock()
		c.entries[k].trusted = 0
		c.mu.Unlock()
		return true
	}
	if rel, ok := c.LendFD(k, 0, 100, distrust); ok {
		rel()
		t.Error("LendFD succeeded though the chunks were distrusted while load ran")
	}
	if rel, ok := c.LendFD(k, 0, 100, readLent); ok {
		rel()
		t.Error("LendFD of untrusted chunks succeeded")
	}
	c.mu.Lock()
	pins := c.entries[k].pins
	c.mu.Unlock()
	if pins != 0 {
		t.Errorf("block pinned %d times after every loan ended", pins)
	}

	v := open(t, Options{Dir: t.TempDir(), VerifyHits: true})
	if err := v.Put(k, data); err != nil {
		t.Fatal(err)
	}
	v.ReadAt(k, make([]byte, 10), 0)
	if rel, ok := v.LendFD(k, 0, 100, func(int, int64) bool { t.Error("load called with VerifyHits"); return true }); ok {
		rel()
		t.Error("LendFD succeeded with VerifyHits")
	}
}
