package rack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/fs"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

const testSecret = "mount-test-secret"

// files is a boot tree's content by path.
type files map[string][]byte

// tree stores every file in region r and returns the tree listing them,
// held by r under the name "r1".
func (f files) tree(r *regiontest.Region, generation string) wire.Tree {
	t := wire.Tree{Generation: generation, Regions: []wire.Region{{Name: "r1", URL: r.URL(), Alive: true}}}
	paths := make([]string, 0, len(f))
	for p := range f {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		d := r.Add(f[p])
		t.Files = append(t.Files, wire.Entry{Path: p, SHA256: d, Size: int64(len(f[p])), Regions: []string{"r1"}})
	}
	return t
}

func randBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

// testConfig is a Config mounting regions on a fresh directory with a fresh
// cache, logging to the test.
func testConfig(t *testing.T, regions ...string) Config {
	t.Helper()
	dir := t.TempDir()
	mp := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	return Config{
		Regions:       regions,
		Secret:        testSecret,
		Mountpoint:    mp,
		CacheDir:      filepath.Join(dir, "cache"),
		CacheSize:     64 << 20,
		TreeWait:      2 * time.Second,
		FlushInterval: 100 * time.Millisecond,
		DrainTimeout:  time.Second,
		Log:           slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// start starts a mount and closes it when the test ends.
func start(t *testing.T, cfg Config) *Mount {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// mounted reports whether dir is a mountpoint in /proc/mounts.
func mounted(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && fields[1] == dir {
			return true
		}
	}
	return false
}

// xattrStatus reads the mount's status the way `bootfs status` does.
func xattrStatus(t *testing.T, dir string) Status {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Getxattr(dir, fs.StatusXattr, buf)
	if err != nil {
		t.Fatalf("getxattr %s: %v", fs.StatusXattr, err)
	}
	var st Status
	if err := json.Unmarshal(buf[:n], &st); err != nil {
		t.Fatalf("status JSON %q: %v", buf[:n], err)
	}
	return st
}

func mustRead(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %s: %d bytes, not the %d expected", path, len(got), len(want))
	}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	defer func() { _ = recover() }() // a line logged after the test ended
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
