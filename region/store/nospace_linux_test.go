package store

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/tmpfs"

	"golang.org/x/sys/unix"
)

func TestPutNoSpace(t *testing.T) {
	mnt := tmpfs.Mount(t, "2m")
	dir := filepath.Join(mnt, "store")
	d, err := Open(Options{Dir: dir, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	data, dg := blob(60, 4<<20)
	_, err = d.Put(context.Background(), dg, int64(len(data)), bytes.NewReader(data))
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Put = %v, want ErrNoSpace", err)
	}
	if !errors.Is(err, unix.ENOSPC) {
		t.Errorf("error %q does not wrap ENOSPC", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory", err)
	}
	assertNothingFor(t, d, dg)
	for _, sub := range []string{partialDir, tmpDir} {
		if names := dirNames(t, filepath.Join(dir, sub)); len(names) != 0 {
			t.Errorf("%s holds %v", sub, names)
		}
	}
	// The space is given back: a blob that fits goes in.
	small, sdg := blob(61, 1<<20)
	if _, err := d.Put(context.Background(), sdg, int64(len(small)), bytes.NewReader(small)); err != nil {
		t.Fatalf("Put after ENOSPC: %v", err)
	}
	assertStored(t, d, sdg, small)

	// Begin/Write reports it the same way.
	p, err := d.Begin(dg, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write(data); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Write = %v, want ErrNoSpace", err)
	}
	assertNothingFor(t, d, dg)
	if err := p.Abort(); err != nil {
		t.Fatalf("Abort after ENOSPC = %v", err)
	}
}
