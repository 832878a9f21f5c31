package devmirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestGenerateRealKernel(t *testing.T) {
	dir := t.TempDir()
	kernel, initrd := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img")
	if err := os.WriteFile(kernel, bytes.Repeat([]byte("kernel"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(initrd, []byte("tiny initrd"), 0o644); err != nil {
		t.Fatal(err)
	}
	ks, kn := fileDigest(t, kernel)
	is, in := fileDigest(t, initrd)
	res := generate(t, Options{Kernel: kernel, Initrd: initrd, Releases: []string{"focal", "jammy", "noble"}})
	n := 0
	for _, l := range load(t, res, false, res.KeyringPath) {
		for _, it := range l.Items {
			switch it.Name {
			case "boot-kernel":
				n++
				if it.SHA256 != ks || it.Size != kn {
					t.Errorf("%s kernel: %s/%d, want the given file", l.Product.Release, it.SHA256.Short(7), it.Size)
				}
			case "boot-initrd":
				n++
				if it.SHA256 != is || it.Size != in {
					t.Errorf("%s initrd: %s/%d, want the given file", l.Product.Release, it.SHA256.Short(7), it.Size)
				}
			}
		}
	}
	if n != 6 {
		t.Errorf("%d kernels and initrds, want 6", n)
	}
	if _, err := Generate(context.Background(), Options{Out: t.TempDir(), Scale: testScale, SystemRoot: fakeSystem(t), Kernel: filepath.Join(dir, "missing")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing kernel file: %v", err)
	}
}

func TestGenerateOptions(t *testing.T) {
	out := t.TempDir()
	bad := map[string]Options{
		"no out":             {},
		"negative scale":     {Out: out, Scale: -1},
		"NaN scale":          {Out: out, Scale: math.NaN()},
		"huge scale":         {Out: out, Scale: 1e300},
		"unknown release":    {Out: out, Releases: []string{"warty"}},
		"release twice":      {Out: out, Releases: []string{"jammy", "jammy"}},
		"escaping version":   {Out: out, Version: "../x"},
		"version with slash": {Out: out, Version: "2025/01"},
	}
	for name, o := range bad {
		if _, err := Generate(context.Background(), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("refused options wrote %d entries", len(entries))
	}
	o, err := Options{Out: out}.withDefaults()
	if err != nil || o.Scale != 1 || o.Version != DefaultVersion || !slices.Equal(o.Releases, []string{"jammy", "noble"}) {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	// Realistic sizes at scale 1: noble larger than jammy.
	j, n := releases["jammy"], releases["noble"]
	if o.scaled(j.squashfs) != j.squashfs || j.squashfs < 800e6 || n.squashfs <= j.squashfs || j.initrd < 70e6 || j.kernel < 13e6 {
		t.Errorf("sizes jammy %+v noble %+v", j, n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, Options{Out: t.TempDir(), Scale: testScale, SystemRoot: fakeSystem(t)}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestSynthStream(t *testing.T) {
	// Same seed, same bytes; the stream does not depend on the buffer
	// size, so a size is a prefix of a larger size.
	var a, b bytes.Buffer
	s := seed("jammy", "squashfs", "20250101")
	if err := (synth{seed: s, size: 3<<20 + 5}).writeTo(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
	if err := (synth{seed: s, size: 1 << 20}).writeTo(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if a.Len() != 3<<20+5 || !bytes.Equal(a.Bytes()[:1<<20], b.Bytes()) {
		t.Fatal("synthetic stream not reproducible")
	}
	if seed("jammy", "squashfs", "20250101") == seed("jammy", "squashfs", "20250102") ||
		seed("jammy", "squashfs") == seed("jammysquashfs") {
		t.Fatal("seeds collide")
	}
}

func BenchmarkSynth(b *testing.B) {
	s := synth{seed: seed("bench"), size: 256 << 20}
	b.SetBytes(s.size)
	for b.Loop() {
		h := sha256.New()
		if err := s.writeTo(context.Background(), h); err != nil {
			b.Fatal(err)
		}
	}
}
