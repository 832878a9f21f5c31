// Package damage corrupts files on purpose, for tests that prove damaged
// bytes are caught (the region's store and verifier, the rack's cache).
package damage

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
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

// XZDict returns a copy of the xz stream data whose first block asks for
// another LZMA2 dictionary size: its dictionary byte set to dictByte (40
// is 4 GiB; 30 is 128 MiB) and the block header's CRC32 fixed, so that the
// stream stays valid.
func XZDict(t testing.TB, data []byte, dictByte byte) []byte {
	t.Helper()
	const lzma2FilterID = 0x21
	out := bytes.Clone(data)
	n := (int(out[12]) + 1) * 4
	h := out[12 : 12+n]
	i := bytes.Index(h[2:n-4], []byte{lzma2FilterID, 1})
	if i < 0 {
		t.Fatalf("no LZMA2 filter in block header % x", h)
	}
	h[2+i+2] = dictByte
	binary.LittleEndian.PutUint32(h[n-4:], crc32.ChecksumIEEE(h[:n-4]))
	return out
}
