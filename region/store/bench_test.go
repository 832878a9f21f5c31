package store

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

const benchSize = 64 << 20

// BenchmarkPut measures the whole write path: copy, hash (whole and
// blocks), fsync, rename.
func BenchmarkPut(b *testing.B) {
	d, _ := newDisk(b)
	data, dg := blob(70, benchSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := d.Put(context.Background(), dg, benchSize, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCopyBaseline is what curl -o does with the same bytes (copy to
// a file, no hashing, no fsync), to compare BenchmarkPut against.
func BenchmarkCopyBaseline(b *testing.B) {
	data, _ := blob(70, benchSize)
	p := filepath.Join(b.TempDir(), "out")
	buf := make([]byte, copyBufSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{bytes.NewReader(data)}, buf); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
