package devmirror

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/bootfs/bootfs/internal/digest"
)

// source produces the content of one file.
type source interface {
	// writeTo writes the whole content to w, stopping early if ctx ends.
	writeTo(ctx context.Context, w io.Writer) error
}

// synth is a deterministic pseudo-random content: a PCG stream seeded by
// seed, size bytes long. The stream is generated one buffer ahead of the
// writes, so that generating overlaps hashing and writing.
type synth struct {
	seed [32]byte
	size int64
}

// seed derives a synthetic content's seed from what identifies it.
func seed(parts ...string) [32]byte {
	h := sha256.New()
	io.WriteString(h, "bootfs devmirror v1")
	for _, p := range parts {
		h.Write([]byte{0})
		io.WriteString(h, p)
	}
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// synthBuffer is the size of one generated chunk; a multiple of 8.
const synthBuffer = 1 << 20

func (s synth) writeTo(ctx context.Context, w io.Writer) error {
	rng := rand.NewPCG(binary.LittleEndian.Uint64(s.seed[0:]), binary.LittleEndian.Uint64(s.seed[8:]))
	bufSize := min(synthBuffer, (s.size+7)&^7)
	full := make(chan []byte, 1)
	free := make(chan []byte, 2)
	for range cap(free) {
		free <- make([]byte, bufSize)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	wg.Go(func() {
		defer close(full)
		for left := s.size; left > 0; {
			var buf []byte
			select {
			case buf = <-free:
			case <-done:
				return
			}
			for i := 0; i < len(buf); i += 8 {
				binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
			}
			n := min(int64(len(buf)), left)
			select {
			case full <- buf[:n]:
			case <-done:
				return
			}
			left -= n
		}
	})
	for chunk := range full {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		free <- chunk[:cap(chunk)]
	}
	return ctx.Err()
}

// file is the content of a file on this machine.
type file struct{ path string }

func (f file) writeTo(ctx context.Context, w io.Writer) error {
	in, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(w, in)
	return err
}

// text is a small literal content.
type text string

func (t text) writeTo(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, string(t))
	return err
}

// countWriter counts the bytes written through it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// writeItems writes every item file of products under root, a few at a
// time, and records each one's sha256 and size.
func writeItems(ctx context.Context, root string, products []*product) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, p := range products {
		for _, it := range p.items {
			// Each goroutine sets only its own item's fields; g.Wait
			// orders those writes before the caller's reads.
			g.Go(func() error {
				sum, size, err := writeFile(ctx, filepath.Join(root, filepath.FromSlash(it.path)), it.src)
				if err != nil {
					return fmt.Errorf("product %s item %s: %w", p.id, it.name, err)
				}
				it.sha256, it.size = sum, size
				return nil
			})
		}
	}
	return g.Wait()
}

// writeFile writes src's content to dst through a temporary file in the
// same directory, renamed into place once complete, and returns the
// content's sha256 and size.
func writeFile(ctx context.Context, dst string, src source) (sum digest.Digest, size int64, err error) {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sum, 0, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return sum, 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := digest.New()
	var n countWriter
	bw := bufio.NewWriterSize(io.MultiWriter(f, h, &n), 256<<10)
	if err := src.writeTo(ctx, bw); err != nil {
		return sum, 0, err
	}
	if err := bw.Flush(); err != nil {
		return sum, 0, err
	}
	if err := f.Chmod(0o644); err != nil {
		return sum, 0, err
	}
	if err := f.Close(); err != nil {
		return sum, 0, err
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return sum, 0, err
	}
	return digest.FromHash(h), n.n, nil
}

// writeBytes writes b to dst like writeFile.
func writeBytes(dst string, b []byte) error {
	_, _, err := writeFile(context.Background(), dst, text(b))
	return err
}
