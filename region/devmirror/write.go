package devmirror

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/bootfs/bootfs/internal/digest"
)

// source produces the content of one file.
type source interface {
	// writeTo writes the whole content to w, stopping early if ctx ends.
	writeTo(ctx context.Context, w io.Writer) error
}

// synth is a deterministic pseudo-random content: a ChaCha8 stream seeded
// by seed, size bytes long.
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

func (s synth) writeTo(ctx context.Context, w io.Writer) error {
	rng := rand.NewChaCha8(s.seed)
	buf := make([]byte, min(s.size, 1<<20))
	for left := s.size; left > 0; {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := buf[:min(int64(len(buf)), left)]
		rng.Read(chunk)
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		left -= int64(len(chunk))
	}
	return nil
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
