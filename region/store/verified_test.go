package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

// TestVerifiedAlgorithms serves a stored blob through Verified with
// BLAKE3 block digests (what ingest records) and with SHA-256 ones (a
// file stored by an earlier release), by Read and by CopyTo; digests of
// one algorithm checked as the other are refused; then a damaged block is
// caught under BLAKE3 and the file quarantined.
func TestVerifiedAlgorithms(t *testing.T) {
	d, _ := newDisk(t)
	data, dg := put(t, d, 41, 3*digest.BlockSize+5)
	size := int64(len(data))
	byAlgo := map[string][]digest.Digest{}
	for _, algo := range []string{digest.BLAKE3, digest.SHA256} {
		whole, blocks, err := d.HashOf(context.Background(), dg, algo, 0)
		if err != nil || whole != dg {
			t.Fatalf("HashOf(%s) = %s, %v", algo, whole.Short(8), err)
		}
		for i, b := range blocks {
			if b != digest.BlockSum(algo, data[i*digest.BlockSize:min((i+1)*digest.BlockSize, len(data))]) {
				t.Fatalf("HashOf(%s): block %d wrong", algo, i)
			}
		}
		byAlgo[algo] = blocks
		v, err := d.OpenVerified(dg, size, digest.BlockSize, algo, blocks)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(v)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: Read: %d bytes, %v", algo, len(got), err)
		}
		v.Seek(7, io.SeekStart)
		var buf bytes.Buffer
		if n, err := v.CopyTo(&buf, size); err != nil || n != size-7 || !bytes.Equal(buf.Bytes(), data[7:]) {
			t.Fatalf("%s: CopyTo: %d, %v", algo, n, err)
		}
		v.Close()
	}
	if _, err := d.OpenVerified(dg, size, digest.BlockSize, "md5", byAlgo[digest.SHA256]); err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown algorithm: %v, want a plain error", err)
	}
	// SHA-256 digests checked as BLAKE3 ones fail on the first block (the
	// mistake an old rack would make the other way round).
	v, err := d.OpenVerified(dg, size, digest.BlockSize, digest.BLAKE3, byAlgo[digest.SHA256])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.CopyTo(io.Discard, size); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("sha256 digests checked as blake3: %v, want ErrCorrupt", err)
	}
	v.Close()
	// That quarantined the (good) file: store it again, damage one byte of
	// block 2 and serve it with the right BLAKE3 digests.
	data, dg = put(t, d, 41, 3*digest.BlockSize+5)
	f, err := os.OpenFile(d.Path(dg), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{data[2*digest.BlockSize+10] ^ 1}, 2*digest.BlockSize+10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	v, err = d.OpenVerified(dg, size, digest.BlockSize, digest.BLAKE3, byAlgo[digest.BLAKE3])
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := v.CopyTo(&buf, size)
	if !errors.Is(err, ErrCorrupt) || n != 2*digest.BlockSize || !bytes.Equal(buf.Bytes(), data[:n]) {
		t.Fatalf("damaged block 2: sent %d bytes, %v; want the 2 good blocks, then ErrCorrupt", n, err)
	}
	v.Close()
	if _, err := d.Stat(dg); !errors.Is(err, ErrNotFound) {
		t.Fatalf("damaged file still stored: %v", err)
	}
}
