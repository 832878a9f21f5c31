package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/reader"
	"github.com/bootfs/bootfs/region/db"
)

// TestBLAKE3BlockDigests (issue #15): a region importing a mirror records
// BLAKE3 block digests only; a real bootfs mount reads a file through them,
// right, and keeps them in cache_dir/digests naming the algorithm; through
// a proxy that flips one byte of one block on the wire (past the region's
// own check), the rack's BLAKE3 check catches the block: its read fails
// with EIO, never with wrong bytes.
func TestBLAKE3BlockDigests(t *testing.T) {
	requireRoot(t)
	g := &rig{repo: moduleRoot(t)}
	g.bin = buildBootfs(t, g.repo)
	g.mirror = regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.005})
	r := regiontest.StartRegion(t, regiontest.Options{})
	g.regions[0], g.secretFile = r, r.SecretFile
	r.AddSource(t, g.mirror)
	ctx := context.Background()
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	g.tree = r.Tree(t)
	var e wire.Entry
	for _, f := range g.tree.Files {
		if f.Size > e.Size {
			e = f
		}
	}
	if e.Size < 3*digest.BlockSize {
		t.Fatalf("largest file %s has %d bytes; the test needs 3 blocks", e.Path, e.Size)
	}
	want, err := os.ReadFile(filepath.Join(r.Storage, e.SHA256.String()))
	if err != nil || digest.Of(want) != e.SHA256 {
		t.Fatalf("stored copy of %s: %v", e.Path, err)
	}

	// Ingest recorded BLAKE3 block digests, and no SHA-256 ones.
	rec, err := r.DB().BlockDigestsOf(ctx, e.SHA256, digest.BLAKE3)
	if err != nil {
		t.Fatalf("BLAKE3 block digests of an imported file: %v", err)
	}
	for i, b := range rec.Blocks {
		if b != digest.BlockSum(digest.BLAKE3, want[int64(i)*digest.BlockSize:min(int64(i+1)*digest.BlockSize, e.Size)]) {
			t.Fatalf("recorded BLAKE3 digest of block %d is wrong", i)
		}
	}
	if _, err := r.DB().BlockDigestsOf(ctx, e.SHA256, digest.SHA256); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("SHA-256 block digests of an imported file: %v, want none", err)
	}

	// A mount reads it through the BLAKE3 digests.
	m := g.mount(t, mountSpec{source: r.URL()})
	sameBytes(t, "read through the mount", readFile(t, m.path(e.Path)), want)
	var saved wire.BlockDigests
	h := e.SHA256.String()
	err = reader.LoadState(filepath.Join(m.cacheDir, "digests", h[:2], h), &saved, 64<<20)
	if err != nil || saved.Algorithm != digest.BLAKE3 || len(saved.Blocks) != len(rec.Blocks) || saved.Blocks[0] != rec.Blocks[0] {
		t.Fatalf("digests the rack kept: %v, algorithm %q, %d blocks", err, saved.Algorithm, len(saved.Blocks))
	}
	if st := m.regionStatus(t, r.URL()); st.VerifyFailures != 0 {
		t.Fatalf("%d verify failures reading a good file", st.VerifyFailures)
	}

	// One byte of block 2 flipped on the wire: caught by the rack.
	const bad = 2
	off := int64(bad)*digest.BlockSize + 777
	p := newFlipProxy(t, r.URL(), e.SHA256, off)
	m2 := g.mount(t, mountSpec{source: p.URL})
	f, err := os.Open(m2.path(e.Path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, digest.BlockSize)
	for i := int64(0); i <= bad; i++ {
		n, err := f.ReadAt(buf, i*digest.BlockSize)
		if i == bad {
			if !errors.Is(err, syscall.EIO) {
				t.Fatalf("read of the block damaged on the wire: %d bytes, %v; want EIO", n, err)
			}
			continue
		}
		if err != nil && err != io.EOF {
			t.Fatalf("read block %d: %v", i, err)
		}
		sameBytes(t, fmt.Sprintf("block %d", i), buf[:n], want[i*digest.BlockSize:i*digest.BlockSize+int64(n)])
	}
	if st := m2.regionStatus(t, p.URL); st.VerifyFailures == 0 {
		t.Errorf("the damaged block counted no verify failure: %+v", st)
	}
}

// flipProxy passes requests to a region, flipping the byte at offset off of
// file sha in every blob response that covers it.
type flipProxy struct{ URL string }

func newFlipProxy(t *testing.T, region string, sha digest.Digest, off int64) *flipProxy {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		out, err := http.NewRequestWithContext(req.Context(), req.Method, region+req.URL.RequestURI(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out.Header = req.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if req.URL.Path == wire.PathBlobs+sha.String() {
			start := int64(0)
			if cr := resp.Header.Get("Content-Range"); cr != "" { // "bytes a-b/size"
				s, _, _ := strings.Cut(strings.TrimPrefix(cr, "bytes "), "-")
				start, _ = strconv.ParseInt(s, 10, 64)
			}
			if i := off - start; i >= 0 && i < int64(len(body)) {
				body[i] ^= 0x20
			}
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return &flipProxy{URL: srv.URL}
}
