package region_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/testskip"
	"github.com/bootfs/bootfs/rack"
)

// mountRack mounts the boot tree of the regions with FUSE, as a rack does,
// until the test ends, and returns the mountpoint. Without root it skips
// (a failure in CI, see testskip).
func mountRack(t *testing.T, rs []*regiontest.Region) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testskip.Skip(t, "a FUSE mount needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		testskip.Skip(t, "no /dev/fuse: "+err.Error())
	}
	dir := t.TempDir()
	mp := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, r := range rs {
		urls = append(urls, r.URL())
	}
	cfg := rack.Config{
		Regions: urls, Secret: rs[0].Secret, Mountpoint: mp, CacheDir: filepath.Join(dir, "cache"),
		CacheSize: 64 << 20, TreeWait: 2 * time.Second, FlushInterval: 100 * time.Millisecond, DrainTimeout: time.Second,
		Log: slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := rack.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("mount the rack: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("unmount the rack: %v", err)
		}
	})
	return mp
}

type tlog struct{ t *testing.T }

func (w tlog) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(b))
	return len(b), nil
}
