package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

// put stores a blob and fails the test on error.
func put(t testing.TB, d *Disk, seed uint64, n int) ([]byte, digest.Digest) {
	t.Helper()
	data, dg := blob(seed, n)
	if _, err := d.Put(context.Background(), dg, int64(n), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return data, dg
}

func TestMissing(t *testing.T) {
	d, _ := newDisk(t)
	_, dg := blob(20, 10)
	if _, err := d.Open(dg); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open = %v, want ErrNotFound", err)
	}
	if _, err := d.Stat(dg); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat = %v, want ErrNotFound", err)
	}
	if err := d.Remove(dg); err != nil {
		t.Errorf("Remove of a missing blob = %v", err)
	}
	if _, _, err := d.Hash(context.Background(), dg, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Hash = %v, want ErrNotFound", err)
	}
	if err := d.Quarantine(dg, "test"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Quarantine = %v, want ErrNotFound", err)
	}
}

func TestRemove(t *testing.T) {
	d, _ := newDisk(t)
	_, dg := put(t, d, 21, 5000)
	if err := d.Remove(dg); err != nil {
		t.Fatal(err)
	}
	assertNothingFor(t, d, dg)
	if files, bytes, _ := d.Usage(); files != 0 || bytes != 0 {
		t.Fatalf("Usage = %d, %d after Remove", files, bytes)
	}
}

func TestQuarantine(t *testing.T) {
	d, reg := newDisk(t)
	data, dg := put(t, d, 22, 5000)
	if err := d.Quarantine(dg, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(dg); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open after Quarantine = %v, want ErrNotFound", err)
	}
	names := dirNames(t, filepath.Join(d.Dir(), quarantineDir))
	if len(names) != 1 || !strings.HasPrefix(names[0], dg.String()+".") {
		t.Fatalf("quarantine holds %v", names)
	}
	got, err := os.ReadFile(filepath.Join(d.Dir(), quarantineDir, names[0]))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("quarantined bytes differ: %v", err)
	}
	// Twice in the same second must not overwrite the first.
	put(t, d, 22, 5000)
	if err := d.Quarantine(dg, "test"); err != nil {
		t.Fatal(err)
	}
	if files, _, q := d.Usage(); files != 0 || q != 2 {
		t.Fatalf("Usage files=%d quarantined=%d, want 0, 2", files, q)
	}
	if v := metricValue(t, reg, "bootfs_region_store_quarantined_files_total"); v != 2 {
		t.Errorf("quarantined metric = %v", v)
	}
	// Reopening counts the quarantine from disk.
	d2, err := Open(Options{Dir: d.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, q := d2.Usage(); q != 2 {
		t.Fatalf("reopened Usage quarantined = %d", q)
	}
}

func TestHash(t *testing.T) {
	d, _ := newDisk(t)
	data, dg := put(t, d, 23, digest.BlockSize+99)
	for _, rate := range []int64{0, 1 << 30} {
		whole, blocks, err := d.Hash(context.Background(), dg, rate)
		if err != nil || whole != dg || !equalBlocks(blocks, blocksOf(data)) {
			t.Fatalf("Hash(rate %d) = %s, %d blocks, %v", rate, whole.Short(8), len(blocks), err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := d.Hash(ctx, dg, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with a cancelled context = %v", err)
	}
}

func TestFree(t *testing.T) {
	d, _ := newDisk(t)
	free, err := d.Free()
	if err != nil || free == 0 {
		t.Fatalf("Free = %d, %v", free, err)
	}
}

func TestOpenOptions(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Fatal("Open without a directory succeeded")
	}
	d, reg := newDisk(t)
	if _, err := Open(Options{Dir: d.Dir(), Metrics: reg}); err == nil {
		t.Fatal("registering the metrics twice succeeded")
	}
	for _, sub := range []string{partialDir, quarantineDir, tmpDir} {
		if fi, err := os.Stat(filepath.Join(d.Dir(), sub)); err != nil || !fi.IsDir() {
			t.Errorf("%s not created: %v", sub, err)
		}
	}
}
