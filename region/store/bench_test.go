package store

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
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

// BenchmarkVerifiedCopy measures serving a stored file: every block read,
// hashed and compared, then written (to io.Discard here), with BLAKE3
// block digests (what regions record at ingest) and SHA-256 ones (files
// ingested by an earlier release, until recomputed):
// go test -run X -bench VerifiedCopy ./region/store/
func BenchmarkVerifiedCopy(b *testing.B) {
	d, _ := newDisk(b)
	data, dg := blob(71, benchSize)
	if _, err := d.Put(context.Background(), dg, benchSize, bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	for _, algo := range []string{digest.BLAKE3, digest.SHA256} {
		_, blocks, err := d.HashOf(context.Background(), dg, algo, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(algo, func(b *testing.B) {
			b.SetBytes(benchSize)
			for b.Loop() {
				v, err := d.OpenVerified(dg, benchSize, 1<<20, algo, blocks)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := v.CopyTo(io.Discard, benchSize); err != nil || n != benchSize {
					b.Fatal(n, err)
				}
				v.Close()
			}
		})
	}
}

// BenchmarkUnverifiedCopy is the same copy without hashing, to compare.
func BenchmarkUnverifiedCopy(b *testing.B) {
	d, _ := newDisk(b)
	data, dg := blob(72, benchSize)
	if _, err := d.Put(context.Background(), dg, benchSize, bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	buf := make([]byte, 1<<20)
	for b.Loop() {
		f, err := d.Open(dg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
