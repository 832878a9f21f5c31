package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

func TestPutGood(t *testing.T) {
	d, reg := newDisk(t)
	data, dg := blob(1, 3*digest.BlockSize+12345)
	blocks, err := d.Put(context.Background(), dg, int64(len(data)), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !equalBlocks(blocks, blocksOf(data)) {
		t.Fatalf("got %d block digests, not those of the data (%d blocks)", len(blocks), len(blocksOf(data)))
	}
	assertStored(t, d, dg, data)
	if size, err := d.Stat(dg); err != nil || size != int64(len(data)) {
		t.Fatalf("Stat = %d, %v", size, err)
	}
	f, err := d.Open(dg)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if names := dirNames(t, d.Dir()+"/"+partialDir); len(names) != 0 {
		t.Fatalf("partial files left: %v", names)
	}
	if files, bytes, q := d.Usage(); files != 1 || bytes != int64(len(data)) || q != 0 {
		t.Fatalf("Usage = %d, %d, %d", files, bytes, q)
	}
	if v := metricValue(t, reg, "bootfs_region_store_commits_total"); v != 1 {
		t.Errorf("commits = %v", v)
	}
	if v := metricValue(t, reg, "bootfs_region_store_written_bytes_total"); v != float64(len(data)) {
		t.Errorf("written bytes = %v", v)
	}
	if v := metricValue(t, reg, "bootfs_region_store_bytes"); v != float64(len(data)) {
		t.Errorf("store bytes = %v", v)
	}

	// Putting it again replaces it with the same bytes.
	if _, err := d.Put(context.Background(), dg, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if files, _, _ := d.Usage(); files != 1 {
		t.Fatalf("Usage files = %d after a second Put", files)
	}

	// An empty blob is a blob too.
	empty := digest.Of(nil)
	if blocks, err := d.Put(context.Background(), empty, 0, strings.NewReader("")); err != nil || len(blocks) != 0 {
		t.Fatalf("empty Put = %v, %v", blocks, err)
	}
	assertStored(t, d, empty, nil)
}

func TestPutWrongSHA(t *testing.T) {
	d, reg := newDisk(t)
	data, _ := blob(2, 2*digest.BlockSize)
	_, other := blob(3, 10)
	_, err := d.Put(context.Background(), other, int64(len(data)), bytes.NewReader(data))
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Put = %v, want ErrCorrupt", err)
	}
	for _, s := range []string{other.String(), digest.Of(data).String()} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	assertNothingFor(t, d, other)
	if v := metricValue(t, reg, "bootfs_region_store_corrupt_writes_total"); v != 1 {
		t.Errorf("corrupt writes = %v", v)
	}
}

func TestPutWrongSize(t *testing.T) {
	data, dg := blob(4, digest.BlockSize+777)
	for _, tc := range []struct {
		name string
		give []byte
	}{
		{"short", data[:len(data)-1]},
		{"long", append(append([]byte(nil), data...), 'x')},
		{"much longer", append(append([]byte(nil), data...), make([]byte, 3*digest.BlockSize)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newDisk(t)
			_, err := d.Put(context.Background(), dg, int64(len(data)), bytes.NewReader(tc.give))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Put = %v, want ErrCorrupt", err)
			}
			assertNothingFor(t, d, dg)
		})
	}
}

// cancelReader cancels its context after handing out the first bytes.
type cancelReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b[:min(len(b), 1000)])
	c.cancel()
	return n, err
}

func TestPutCancel(t *testing.T) {
	d, _ := newDisk(t)
	data, dg := blob(5, 2*digest.BlockSize)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := d.Put(ctx, dg, int64(len(data)), &cancelReader{r: bytes.NewReader(data), cancel: cancel})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	assertNothingFor(t, d, dg)
}

func TestPutDiscardsOldPartial(t *testing.T) {
	d, _ := newDisk(t)
	data, dg := blob(6, digest.BlockSize+5)
	writeFile(t, d.partialPath(dg), []byte("garbage from an earlier attempt"))
	if _, err := d.Put(context.Background(), dg, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	assertStored(t, d, dg, data)
}

func TestPutConcurrent(t *testing.T) {
	d, _ := newDisk(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			data, dg := blob(uint64(100+i), 300_000+i)
			_, errs[i] = d.Put(context.Background(), dg, int64(len(data)), bytes.NewReader(data))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		}
	}
	if files, _, _ := d.Usage(); files != len(errs) {
		t.Fatalf("Usage files = %d", files)
	}
}
