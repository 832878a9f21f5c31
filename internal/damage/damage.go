// Package damage corrupts files on purpose, for tests that prove damaged
// bytes are caught (the region's store and verifier, the rack's cache).
package damage

import (
	"os"
	"testing"
)

// FlipByte inverts the byte at off in the file at path, through the file
// system (so the page cache holds the flipped byte too), and fsyncs it.
// Flipping the same byte twice restores the file.
func FlipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatalf("read byte %d of %s: %v", off, path, err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatalf("write byte %d of %s: %v", off, path, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}
