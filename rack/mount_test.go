package rack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/cache"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

// deadURL returns the URL of a port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

func TestStartFailsWhenNoRegionAnswers(t *testing.T) {
	a, b := deadURL(t), deadURL(t)
	cfg := testConfig(t, a, b)
	_, err := Start(context.Background(), cfg)
	if !errors.Is(err, ErrNoRegion) {
		t.Fatalf("Start = %v, want ErrNoRegion", err)
	}
	for _, u := range []string{a, b} {
		if strings.Count(err.Error(), u) < 2 { // listed as tried, and with its own error
			t.Errorf("error does not name region %s with its error: %v", u, err)
		}
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error does not say why: %v", err)
	}
	if mounted(t, cfg.Mountpoint) {
		t.Fatal("mounted although Start failed")
	}
	// The cache directory was released.
	c, err := cache.Open(cache.Options{Dir: cfg.CacheDir})
	if err != nil {
		t.Fatalf("cache still locked: %v", err)
	}
	c.Close()
}

func TestStartRefusesBadConfig(t *testing.T) {
	r := regiontest.New(t, testSecret)
	r.SetTree(files{"a": []byte("a")}.tree(r, "g1"))
	for name, change := range map[string]func(*Config){
		"no region":       func(c *Config) { c.Regions = nil },
		"missing mount":   func(c *Config) { c.Mountpoint += "/missing" },
		"tiny cache":      func(c *Config) { c.CacheSize = 4096 },
		"no secret file":  func(c *Config) { c.Secret, c.SecretFile = "", filepath.Join(t.TempDir(), "none") },
		"wrong secret":    func(c *Config) { c.Secret = "wrong" },
		"metrics in use":  func(c *Config) { c.MetricsListen = "256.0.0.1:1" },
		"bad region URL":  func(c *Config) { c.Regions = []string{"ftp://x"} },
		"file as mountpt": func(c *Config) { c.Mountpoint = "/proc/self/status" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, r.URL())
			change(&cfg)
			m, err := Start(context.Background(), cfg)
			if err == nil {
				m.Close()
				t.Fatal("Start succeeded")
			}
			t.Logf("error: %v", err)
			if mounted(t, cfg.Mountpoint) {
				t.Fatal("mounted although Start failed")
			}
		})
	}
}

func TestMountServesStatusAndUnmounts(t *testing.T) {
	r := regiontest.New(t, testSecret)
	kernel, loader := randBytes(1, 3*digest.BlockSize+100), randBytes(2, 5000)
	tr := files{"ubuntu/amd64/ga-24.04/noble/stable/boot-kernel": kernel, "lpxelinux.0": loader}.tree(r, "g1")
	r.SetTree(tr)
	cfg := testConfig(t, r.URL())
	cfg.MetricsListen = "127.0.0.1:0"
	m := start(t, cfg)

	mustRead(t, filepath.Join(cfg.Mountpoint, "ubuntu/amd64/ga-24.04/noble/stable/boot-kernel"), kernel)
	mustRead(t, filepath.Join(cfg.Mountpoint, "lpxelinux.0"), loader)
	if _, err := os.Stat(filepath.Join(cfg.Mountpoint, "pxelinux.cfg/01-52-54-00-12-34-56")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ENOENT", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Mountpoint, "new"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("create: %v, want EROFS", err)
	}

	st := xattrStatus(t, cfg.Mountpoint)
	if st.Tree.Generation != "g1" || st.Tree.Files != 2 || st.Tree.Bytes != int64(len(kernel)+len(loader)) {
		t.Errorf("tree status %+v", st.Tree)
	}
	if st.Cache.Limit != cfg.CacheSize || st.Cache.Blocks != 5 || st.Cache.Files != 2 || st.Cache.Used != int64(len(kernel)+len(loader)) {
		t.Errorf("cache status %+v", st.Cache)
	}
	if st.Reads.Fetches != 5 || st.Reads.BytesFetched != int64(len(kernel)+len(loader)) || st.Reads.ReadErrors != 0 {
		t.Errorf("read status %+v", st.Reads)
	}
	if len(st.Regions) != 1 || st.Regions[0].URL != r.URL() || st.Regions[0].Name != "r1" ||
		st.Regions[0].BytesFetched != int64(len(kernel)+len(loader)) || st.Regions[0].Alive == nil || !*st.Regions[0].Alive {
		t.Errorf("region status %+v", st.Regions)
	}
	if st.Mountpoint != cfg.Mountpoint || st.Metrics != m.MetricsAddr() {
		t.Errorf("status %+v", st)
	}

	resp, err := http.Get("http://" + m.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"bootfs_rack_tree_files 2", "bootfs_rack_cache_blocks 5",
		"bootfs_rack_reader_fetches_total 5", `bootfs_rack_region_fetched_bytes_total{region="` + r.URL() + `"}`,
		"bootfs_rack_read_seconds_count", "bootfs_rack_fs_negative_lookups_total", "process_resident_memory_bytes",
		// Blocks go to the cache with O_DIRECT; the kernel's 100-byte last
		// block has no 4 KiB head to write direct.
		directWrites(t, cfg.CacheDir, 4, 1)} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if mounted(t, cfg.Mountpoint) {
		t.Fatal("still mounted after Close")
	}
	select {
	case <-m.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
}

func TestFollowsTreeChanges(t *testing.T) {
	r := regiontest.New(t, testSecret)
	v1, v2 := randBytes(3, 70_000), randBytes(4, 80_000)
	r.SetTree(files{"ubuntu/amd64/ga-22.04/jammy/stable/boot-initrd": v1, "a/old": []byte("old")}.tree(r, "g1"))
	cfg := testConfig(t, r.URL())
	start(t, cfg)
	path := filepath.Join(cfg.Mountpoint, "ubuntu/amd64/ga-22.04/jammy/stable/boot-initrd")
	open, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()

	testpoll.Until(t, 10*time.Second, "the follower's long-poll", func() bool { return r.TreeWaits() > 0 })
	r.SetTree(files{"ubuntu/amd64/ga-22.04/jammy/stable/boot-initrd": v2, "b/new": []byte("new")}.tree(r, "g2"))
	testpoll.Until(t, 10*time.Second, "generation g2", func() bool { return xattrStatus(t, cfg.Mountpoint).Tree.Generation == "g2" })

	mustRead(t, path, v2)
	mustRead(t, filepath.Join(cfg.Mountpoint, "b/new"), []byte("new"))
	if _, err := os.Stat(filepath.Join(cfg.Mountpoint, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed directory: %v", err)
	}
	// A descriptor opened before the update keeps reading what it opened.
	got, err := io.ReadAll(open)
	if err != nil || string(got) != string(v1) {
		t.Fatalf("old descriptor read %d bytes, %v", len(got), err)
	}

	// A tree with a bad entry is applied without it.
	bad := files{"ok": []byte("x")}.tree(r, "g3")
	bad.Files = append(bad.Files, wire.Entry{Path: "../escape", SHA256: bad.Files[0].SHA256, Size: 1})
	r.SetTree(bad)
	testpoll.Until(t, 10*time.Second, "generation g3", func() bool { return xattrStatus(t, cfg.Mountpoint).Tree.Generation == "g3" })
	st := xattrStatus(t, cfg.Mountpoint)
	if st.Tree.Skipped != 1 || st.Tree.Refused != 0 || st.Tree.SkippedEntries[0].Path != "../escape" {
		t.Errorf("after a tree with a bad entry: %+v", st.Tree)
	}
	mustRead(t, filepath.Join(cfg.Mountpoint, "ok"), []byte("x"))
}

func TestServesCachedFilesWhileRegionsAreDown(t *testing.T) {
	r := regiontest.New(t, testSecret)
	data := randBytes(5, 2*digest.BlockSize)
	r.SetTree(files{"f": data, "g": []byte("never read")}.tree(r, "g1"))
	cfg := testConfig(t, r.URL())
	start(t, cfg)
	mustRead(t, filepath.Join(cfg.Mountpoint, "f"), data)

	// Close again while waiting: a connection accepted just as the
	// listener closed would otherwise keep answering long-polls.
	testpoll.Until(t, 10*time.Second, "the tree poll to fail", func() bool {
		r.Close()
		return xattrStatus(t, cfg.Mountpoint).Tree.Failing
	})
	st := xattrStatus(t, cfg.Mountpoint)
	if st.Tree.Generation != "g1" || st.Tree.PollErrors == 0 || st.Tree.LastError == "" {
		t.Errorf("tree status %+v", st.Tree)
	}
	mustRead(t, filepath.Join(cfg.Mountpoint, "f"), data)
	if _, err := os.ReadFile(filepath.Join(cfg.Mountpoint, "g")); !errors.Is(err, syscall.EIO) {
		t.Errorf("uncached file with every region down: %v, want EIO", err)
	}
}

func TestExternalUnmount(t *testing.T) {
	r := regiontest.New(t, testSecret)
	r.SetTree(files{"f": []byte("x")}.tree(r, "g1"))
	cfg := testConfig(t, r.URL())
	m := start(t, cfg)
	if err := unix.Unmount(cfg.Mountpoint, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after umount")
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close after umount: %v", err)
	}
}

func TestCloseDetachesBusyMount(t *testing.T) {
	r := regiontest.New(t, testSecret)
	r.SetTree(files{"f": []byte("content")}.tree(r, "g1"))
	cfg := testConfig(t, r.URL())
	cfg.DrainTimeout = 300 * time.Millisecond
	m, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(cfg.Mountpoint, "f"))
	if err != nil {
		t.Fatal(err)
	}
	err = m.Close()
	if !errors.Is(err, ErrBusy) {
		t.Errorf("Close of a busy mount = %v, want ErrBusy", err)
	}
	if mounted(t, cfg.Mountpoint) {
		t.Error("busy mount still in /proc/mounts after Close")
	}
	f.Close()
	select {
	case <-m.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the kernel did not release the detached mount once the file was closed")
	}
}

func TestHolders(t *testing.T) {
	d1, d2, d3 := digest.Of([]byte("1")), digest.Of([]byte("2")), digest.Of([]byte("3"))
	tr := &wire.Tree{
		Regions: []wire.Region{{Name: "a", URL: "http://a:5240/"}, {Name: "b", URL: "http://b:5240"}},
		Files: []wire.Entry{
			{Path: "x", SHA256: d1, Regions: []string{"a", "b"}},
			{Path: "y", SHA256: d2, Regions: []string{"b", "gone"}},
			{Path: "z", SHA256: d3},
		},
	}
	h := holders(tr)
	if got := strings.Join(h[d1], " "); got != "http://a:5240 http://b:5240" {
		t.Errorf("holders of x: %q", got)
	}
	if got := strings.Join(h[d2], " "); got != "http://b:5240" {
		t.Errorf("holders of y: %q", got)
	}
	if _, ok := h[d3]; ok {
		t.Errorf("file without holders listed: %v", h[d3])
	}
}

// TestWarnsOfFilesLargerThanTheCache: a file larger than cache_size can only
// be read through, never held; status names it with a cache_size that would
// hold it, and a later tree without it clears the warning. The file is
// still served right.
func TestWarnsOfFilesLargerThanTheCache(t *testing.T) {
	r := regiontest.New(t, testSecret)
	big, small := randBytes(3, 3*digest.BlockSize), randBytes(4, 5000)
	r.SetTree(files{"custom/amd64/generic/big/uploaded/root-dd": big, "lpxelinux.0": small}.tree(r, "g1"))
	cfg := testConfig(t, r.URL())
	cfg.CacheSize = 2 * digest.BlockSize
	start(t, cfg)

	mustRead(t, filepath.Join(cfg.Mountpoint, "custom/amd64/generic/big/uploaded/root-dd"), big)
	st := xattrStatus(t, cfg.Mountpoint)
	if len(st.Tree.TooLarge) != 1 || st.Tree.TooLarge[0] != "custom/amd64/generic/big/uploaded/root-dd" || st.Tree.SuggestedCacheSize < int64(len(big)) {
		t.Errorf("tree status: too large %q, suggested %d; want the big file and a size that holds it", st.Tree.TooLarge, st.Tree.SuggestedCacheSize)
	}

	r.SetTree(files{"lpxelinux.0": small}.tree(r, "g2"))
	testpoll.Until(t, 10*time.Second, "the warning to clear with the next tree", func() bool {
		st := xattrStatus(t, cfg.Mountpoint)
		return st.Tree.Generation == "g2" && len(st.Tree.TooLarge) == 0 && st.Tree.SuggestedCacheSize == 0
	})
}

// directWrites is the cache's writes metric for direct blocks written
// with O_DIRECT and buffered ones through the page cache, or all of them
// buffered where dir's file system refuses O_DIRECT (a tmpfs before Linux
// 6.6).
func directWrites(t *testing.T, dir string, direct, buffered int) string {
	t.Helper()
	probe := filepath.Join(dir, "direct-probe")
	fd, err := unix.Open(probe, unix.O_WRONLY|unix.O_CREAT|unix.O_DIRECT|unix.O_CLOEXEC, 0o644)
	if err == unix.EINVAL {
		return fmt.Sprintf(`bootfs_rack_cache_writes_total{mode="buffered"} %d`, direct+buffered)
	}
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	os.Remove(probe)
	// The exposition lists the series by label value: buffered first.
	return fmt.Sprintf(`bootfs_rack_cache_writes_total{mode="buffered"} %d`+"\n"+`bootfs_rack_cache_writes_total{mode="direct"} %d`, buffered, direct)
}
