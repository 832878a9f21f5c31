package store

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
)

func TestResume(t *testing.T) {
	d, _ := newDisk(t)
	data, dg := blob(10, 2*digest.BlockSize+4321)
	half := len(data) / 2

	p, err := d.Begin(dg, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset() != 0 {
		t.Fatalf("fresh Offset = %d", p.Offset())
	}
	if _, err := p.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	if err := p.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := p.Discard(); err != nil {
		t.Fatalf("Discard after Abort = %v, want a no-op", err)
	}
	if _, err := os.Stat(d.partialPath(dg)); err != nil {
		t.Fatalf("Abort did not keep the partial: %v", err)
	}

	// A fresh Disk, as after a restart.
	d2, err := Open(Options{Dir: d.Dir(), Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	p, err = d2.Begin(dg, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset() != int64(half) {
		t.Fatalf("Offset = %d, want %d", p.Offset(), half)
	}
	// io.Copy goes through ReadFrom.
	if n, err := io.Copy(p, bytes.NewReader(data[p.Offset():])); err != nil || n != int64(len(data)-half) {
		t.Fatalf("io.Copy = %d, %v", n, err)
	}
	blocks, err := p.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if !equalBlocks(blocks, blocksOf(data)) {
		t.Fatal("block digests after a resume are wrong")
	}
	assertStored(t, d2, dg, data)
	if _, err := os.Stat(d.partialPath(dg)); !os.IsNotExist(err) {
		t.Fatalf("partial still there after Commit: %v", err)
	}
	if _, err := p.Write([]byte("x")); err == nil {
		t.Fatal("Write after Commit accepted")
	}
}

// A crash mid-write can leave wrong bytes in the partial file; the resume
// must not trust them.
func TestResumeGarbage(t *testing.T) {
	d, reg := newDisk(t)
	data, dg := blob(11, 2*digest.BlockSize)
	half := len(data) / 2
	garbage, _ := blob(12, half)
	writeFile(t, d.partialPath(dg), garbage)

	p, err := d.Begin(dg, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset() != int64(half) {
		t.Fatalf("Offset = %d, want %d", p.Offset(), half)
	}
	if _, err := p.Write(data[half:]); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Commit(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Commit = %v, want ErrCorrupt", err)
	}
	assertNothingFor(t, d, dg)
	if v := metricValue(t, reg, "bootfs_region_store_corrupt_writes_total"); v != 1 {
		t.Errorf("corrupt writes = %v", v)
	}
}

func TestResumeLongerPartial(t *testing.T) {
	d, _ := newDisk(t)
	data, dg := blob(13, 1000)
	writeFile(t, d.partialPath(dg), make([]byte, 2000))
	p, err := d.Begin(dg, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset() != 0 {
		t.Fatalf("Offset = %d for a partial longer than the blob, want 0", p.Offset())
	}
	p.Write(data)
	if _, err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	assertStored(t, d, dg, data)
}

func TestWritePastSize(t *testing.T) {
	d, _ := newDisk(t)
	data, dg := blob(14, 1000)
	p, err := d.Begin(dg, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	if _, err := p.Write(data[:600]); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Write(data[:600]); !errors.Is(err, ErrCorrupt) || n != 0 {
		t.Fatalf("Write past size = %d, %v, want 0, ErrCorrupt", n, err)
	}
	assertNothingFor(t, d, dg)
	if _, err := p.Commit(); err == nil {
		t.Fatal("Commit after a refused Write succeeded")
	}
}

func TestBeginBusy(t *testing.T) {
	d, _ := newDisk(t)
	data, dg := blob(15, 1000)
	p, err := d.Begin(dg, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Begin(dg, int64(len(data))); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Begin = %v, want ErrBusy", err)
	}
	if _, err := d.Put(t.Context(), dg, int64(len(data)), nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("Put during Begin = %v, want ErrBusy", err)
	}
	if err := p.Discard(); err != nil {
		t.Fatal(err)
	}
	p, err = d.Begin(dg, int64(len(data)))
	if err != nil {
		t.Fatalf("Begin after Discard: %v", err)
	}
	p.Abort()

	// Another process holding the partial file's lock (an flock through
	// another open file description behaves the same).
	f, err := os.Open(d.partialPath(dg))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Begin(dg, int64(len(data))); !errors.Is(err, ErrBusy) {
		t.Fatalf("Begin with the partial locked elsewhere = %v, want ErrBusy", err)
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	p, err = d.Begin(dg, int64(len(data)))
	if err != nil {
		t.Fatalf("Begin after unlock: %v", err)
	}
	p.Write(data)
	if _, err := p.Commit(); err != nil {
		t.Fatal(err)
	}
}
