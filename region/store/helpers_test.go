package store

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bootfs/bootfs/internal/digest"
)

// newDisk opens a store in a fresh temporary directory, with metrics in
// its own registry.
func newDisk(t testing.TB) (*Disk, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := Open(Options{Dir: t.TempDir(), Log: testLog(t), Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	return d, reg
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// blob returns n reproducible pseudo-random bytes and their digest.
func blob(seed uint64, n int) ([]byte, digest.Digest) {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1}).Read(b)
	return b, digest.Of(b)
}

// blocksOf computes the expected block digests of b.
func blocksOf(b []byte) []digest.Digest {
	var out []digest.Digest
	for off := 0; off < len(b); off += digest.BlockSize {
		out = append(out, digest.BlockSum(digest.BlockAlgorithm, b[off:min(off+digest.BlockSize, len(b))]))
	}
	return out
}

func equalBlocks(a, b []digest.Digest) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// assertStored checks that blob dg is stored with exactly content want.
func assertStored(t *testing.T, d *Disk, dg digest.Digest, want []byte) {
	t.Helper()
	got, err := os.ReadFile(d.Path(dg))
	if err != nil {
		t.Fatalf("blob %s: %v", dg.Short(8), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("blob %s: content differs (%d bytes, want %d)", dg.Short(8), len(got), len(want))
	}
}

// assertNothingFor checks that neither a final nor a partial file of dg
// exists.
func assertNothingFor(t *testing.T, d *Disk, dg digest.Digest) {
	t.Helper()
	for _, p := range []string{d.Path(dg), d.partialPath(dg)} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists (err %v), want nothing", p, err)
		}
	}
	if _, err := d.Open(dg); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open = %v, want ErrNotFound", err)
	}
}

// dirNames lists a directory's entry names.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// metricValue returns the value of a counter or gauge from reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
