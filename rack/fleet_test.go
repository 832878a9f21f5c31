package rack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/bootfs/bootfs/internal/testskip"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

// TestTreeWithBadEntriesIsAppliedMinusThem: a tree with a ".." path, a
// duplicate path and a file/directory clash mounts (a new rack) and serves
// the rest; status and metrics count the skipped entries; a later good tree
// is applied.
func TestTreeWithBadEntriesIsAppliedMinusThem(t *testing.T) {
	r := regiontest.New(t, testSecret)
	kernel := randBytes(11, digest.BlockSize+10)
	tr := files{"ubuntu/amd64/ga-24.04/noble/stable/boot-kernel": kernel, "a": []byte("file a"), "dup": []byte("first")}.tree(r, "g1")
	other := r.Add([]byte("second"))
	escape := r.Add([]byte("escape"))
	tr.Files = append(tr.Files,
		wire.Entry{Path: "../../../x", SHA256: escape, Size: 6, Regions: []string{"r1"}},        // a ".." release
		wire.Entry{Path: "dup", SHA256: other, Size: 6, Regions: []string{"r1"}},                // duplicate path
		wire.Entry{Path: "a/b", SHA256: other, Size: 6, Regions: []string{"r1"}},                // "a" is a file
		wire.Entry{Path: "ubuntu/amd64", SHA256: other, Size: 6, Regions: []string{"r1"}},       // a directory
		wire.Entry{Path: "ubuntu/amd64/x\x01", SHA256: other, Size: 6, Regions: []string{"r1"}}, // control character
	)
	r.SetTree(tr)
	cfg := testConfig(t, r.URL())
	cfg.MetricsListen = "127.0.0.1:0"
	m := start(t, cfg)

	mustRead(t, filepath.Join(cfg.Mountpoint, "ubuntu/amd64/ga-24.04/noble/stable/boot-kernel"), kernel)
	mustRead(t, filepath.Join(cfg.Mountpoint, "a"), []byte("file a"))
	mustRead(t, filepath.Join(cfg.Mountpoint, "dup"), []byte("first"))
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg.Mountpoint), "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("../../../x escaped the mount: %v", err)
	}
	st := xattrStatus(t, cfg.Mountpoint)
	if st.Tree.Generation != "g1" || st.Tree.Skipped != 5 || len(st.Tree.SkippedEntries) != 5 || st.Tree.Files != 3 ||
		st.Tree.Bytes != int64(len(kernel)+len("file a")+len("first")) {
		t.Fatalf("tree status %+v", st.Tree)
	}
	for i, want := range []string{"../../../x", "dup", "a/b", "ubuntu/amd64", "ubuntu/amd64/x\x01"} {
		if sk := st.Tree.SkippedEntries[i]; sk.Path != want || sk.Why == "" {
			t.Errorf("skipped[%d] = %+v, want %q with a reason", i, sk, want)
		}
	}
	if !strings.Contains(metrics(t, m), "bootfs_rack_tree_skipped_entries 5") {
		t.Error("metrics lack bootfs_rack_tree_skipped_entries 5")
	}

	// The next tree: the bad entries are gone, a new file comes.
	testpoll.Until(t, 10*time.Second, "the follower's long-poll", func() bool { return r.TreeWaits() > 0 })
	r.SetTree(files{"a": []byte("file a"), "new/file": []byte("new")}.tree(r, "g2"))
	testpoll.Until(t, 10*time.Second, "generation g2", func() bool { return xattrStatus(t, cfg.Mountpoint).Tree.Generation == "g2" })
	mustRead(t, filepath.Join(cfg.Mountpoint, "new/file"), []byte("new"))
	if st := xattrStatus(t, cfg.Mountpoint); st.Tree.Skipped != 0 || st.Tree.Files != 2 {
		t.Errorf("after a good tree: %+v", st.Tree)
	}
	if !strings.Contains(metrics(t, m), "bootfs_rack_tree_skipped_entries 0") {
		t.Error("metrics lack bootfs_rack_tree_skipped_entries 0")
	}
}

// TestMountsOfflineFromSavedState: a rack with a warm cache, restarted while
// no region answers, mounts from the tree and block digests saved in its
// cache directory, serves the cached file, fails the uncached one fast with
// EIO, says it is offline, and goes online by itself once a region is back.
func TestMountsOfflineFromSavedState(t *testing.T) {
	r := regiontest.New(t, testSecret)
	cached, uncached := randBytes(21, 3*digest.BlockSize+5), randBytes(22, digest.BlockSize)
	tree := files{"boot/cached": cached, "boot/uncached": uncached}
	r.SetTree(tree.tree(r, "g1"))
	cfg := testConfig(t, r.URL())
	m := start(t, cfg)
	mustRead(t, filepath.Join(cfg.Mountpoint, "boot/cached"), cached)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	r.Close()

	begin := time.Now()
	_ = start(t, cfg)
	t.Logf("offline mount took %s", time.Since(begin))
	st := xattrStatus(t, cfg.Mountpoint)
	if !st.Tree.Offline || st.Tree.OfflineSince.IsZero() || st.Tree.Generation != "g1" || st.Tree.Files != 2 {
		t.Fatalf("offline mount status %+v", st.Tree)
	}
	mustRead(t, filepath.Join(cfg.Mountpoint, "boot/cached"), cached)
	begin = time.Now()
	_, err = os.ReadFile(filepath.Join(cfg.Mountpoint, "boot/uncached"))
	failed := time.Now()
	t.Logf("uncached read offline: %v after %s", err, time.Since(begin))
	if took := time.Since(begin); !errors.Is(err, syscall.EIO) || took > 5*time.Second {
		t.Errorf("uncached read offline: %v after %s, want EIO within 5s", err, took)
	}

	// The region comes back at the same address: the mount goes online.
	r2 := regiontest.NewAt(t, testSecret, u.Host)
	r2.SetTree(tree.tree(r2, "g2"))
	testpoll.Until(t, 40*time.Second, "the mount to go online", func() bool {
		st := xattrStatus(t, cfg.Mountpoint)
		return !st.Tree.Offline && st.Tree.Generation == "g2"
	})
	// The reader fails a file whose block digest list no region could
	// serve at once for a second after (rack/reader's failMemory); the
	// mount may be online sooner than that.
	time.Sleep(time.Until(failed.Add(time.Second + 10*time.Millisecond)))
	mustRead(t, filepath.Join(cfg.Mountpoint, "boot/uncached"), uncached)
	if st := xattrStatus(t, cfg.Mountpoint); !st.Tree.OfflineSince.IsZero() {
		t.Errorf("online status %+v", st.Tree)
	}
}

// TestMountsOfflineWhenRegionHangs: a region that accepts connections but
// never answers (a hung host) holds a restart up for at most OfflineAfter;
// the mount then serves offline and an uncached read fails within
// client.ProbeTimeout, not the stall timeout.
func TestMountsOfflineWhenRegionHangs(t *testing.T) {
	r := regiontest.New(t, testSecret)
	cached, uncached := randBytes(51, digest.BlockSize+1), randBytes(52, 1000)
	r.SetTree(files{"cached": cached, "uncached": uncached}.tree(r, "g1"))
	cfg := testConfig(t, r.URL())
	m := start(t, cfg)
	mustRead(t, filepath.Join(cfg.Mountpoint, "cached"), cached)
	m.Close()

	// The kernel completes connections to a listener nobody accepts on;
	// requests then wait forever for an answer.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg.Regions = []string{"http://" + ln.Addr().String()}
	cfg.OfflineAfter = time.Second
	begin := time.Now()
	_ = start(t, cfg)
	took := time.Since(begin)
	t.Logf("offline start with a hung region took %s", took)
	if took > 5*time.Second {
		t.Errorf("offline start took %s with offline_after 1s", took)
	}
	if st := xattrStatus(t, cfg.Mountpoint); !st.Tree.Offline || st.Tree.Generation != "g1" {
		t.Fatalf("status %+v", st.Tree)
	}
	mustRead(t, filepath.Join(cfg.Mountpoint, "cached"), cached)
	begin = time.Now()
	_, err = os.ReadFile(filepath.Join(cfg.Mountpoint, "uncached"))
	t.Logf("uncached read with a hung region: %v after %s", err, time.Since(begin))
	if took := time.Since(begin); !errors.Is(err, syscall.EIO) || took > 5*time.Second {
		t.Errorf("uncached read with a hung region: %v after %s, want EIO within 5s", err, took)
	}
}

// TestStartIgnoresDamagedSavedTree: a damaged saved tree is ignored (logged)
// and the mount fails as with none when no region answers; with a region it
// is replaced.
func TestStartIgnoresDamagedSavedTree(t *testing.T) {
	cfg := testConfig(t, deadURL(t))
	if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(savedTreePath(cfg.CacheDir), []byte(`{"tree":{"generation":"x","files":[]}}`+"\nsha256 00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrNoRegion) {
		t.Fatalf("Start with a damaged saved tree = %v, want ErrNoRegion", err)
	}
	r := regiontest.New(t, testSecret)
	r.SetTree(files{"f": []byte("f")}.tree(r, "g1"))
	cfg.Regions = []string{r.URL()}
	m := start(t, cfg)
	m.Close()
	if tr, _, err := loadTree(cfg.CacheDir); err != nil || tr == nil || tr.Generation != "g1" {
		t.Fatalf("saved tree after a mount: %v, %v", tr, err)
	}
	// A region refusing the secret is a configuration error, not an
	// outage: no offline mount from the saved tree.
	cfg.Secret = "wrong"
	if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrNoRegion) || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("Start with a wrong secret and a saved tree = %v, want ErrNoRegion naming the secret", err)
	}
}

// TestWholeFileCheckRefusesBadDigestList: a region whose block digest list
// (and bytes) describe other content than the file's sha256 fills the cache
// with blocks that each pass their check; the whole-file check before the
// first passthrough hand-over refuses the file, and its reads then fail.
func TestWholeFileCheckRefusesBadDigestList(t *testing.T) {
	if os.Geteuid() != 0 {
		testskip.Skip(t, "FUSE passthrough needs CAP_SYS_ADMIN; not running as root")
	}
	r := regiontest.New(t, testSecret)
	good, real, fake := randBytes(31, 2*digest.BlockSize+7), randBytes(32, 3*digest.BlockSize+9), randBytes(33, 3*digest.BlockSize+9)
	r.SetTree(files{"good": good, "bad": real}.tree(r, "g1"))
	d := digest.Of(real)
	h := digest.NewHasher(digest.BlockSize)
	h.Write(fake)
	_, blocks := h.Sum()
	r.SetBlob(d, fake)
	r.SetBlockDigests(d, &wire.BlockDigests{SHA256: d, Size: int64(len(fake)), BlockSize: digest.BlockSize, Blocks: blocks, Algorithm: h.Algorithm()})
	cfg := testConfig(t, r.URL())
	start(t, cfg)

	// First reads fill the cache (block by block, each verified).
	mustRead(t, filepath.Join(cfg.Mountpoint, "good"), good)
	if b, err := os.ReadFile(filepath.Join(cfg.Mountpoint, "bad")); err != nil || len(b) != len(fake) {
		t.Fatalf("first read of bad: %d bytes, %v", len(b), err)
	}
	// Wholly cached and flushed: the next opens may be handed over.
	testpoll.Until(t, 20*time.Second, "the good file to be passed through", func() bool {
		mustRead(t, filepath.Join(cfg.Mountpoint, "good"), good)
		return xattrStatus(t, cfg.Mountpoint).Cache.Passthrough > 0
	})
	before := xattrStatus(t, cfg.Mountpoint).Cache.Passthrough
	// The first open of the wholly cached bad file starts its check.
	testpoll.Until(t, 20*time.Second, "the whole-file check of the bad file to fail", func() bool {
		if f, err := os.Open(filepath.Join(cfg.Mountpoint, "bad")); err == nil {
			f.Close()
		}
		return xattrStatus(t, cfg.Mountpoint).Reads.WholeFileFailures == 1
	})
	f, err := os.Open(filepath.Join(cfg.Mountpoint, "bad"))
	if err != nil {
		t.Fatal(err)
	}
	// Drop what the first read left in the page cache: reads must reach
	// the mount.
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(f)
	f.Close()
	st := xattrStatus(t, cfg.Mountpoint)
	if st.Cache.Passthrough != before {
		t.Errorf("the bad file was passed through (%d -> %d opens)", before, st.Cache.Passthrough)
	}
	if st.Reads.WholeFileFailures != 1 || st.Reads.WholeFileChecks != 2 {
		t.Errorf("whole-file checks %d, failures %d; want 2 and 1", st.Reads.WholeFileChecks, st.Reads.WholeFileFailures)
	}
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("read of the bad file after the check: %v, want EIO", err)
	}
	// The good file is checked once per process, not per open.
	checks := st.Reads.WholeFileChecks
	mustRead(t, filepath.Join(cfg.Mountpoint, "good"), good)
	if st := xattrStatus(t, cfg.Mountpoint); st.Reads.WholeFileChecks != checks {
		t.Errorf("good file checked again: %d -> %d", checks, st.Reads.WholeFileChecks)
	}
}

// metrics returns the mount's /metrics page.
func metrics(t *testing.T, m *Mount) string {
	t.Helper()
	resp, err := http.Get("http://" + m.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWholeFileCheckOncePerStampedFile: a file checked whole in one mount is
// not hashed again after a clean restart that the cache's stamps vouch for,
// but is after its content file was touched.
func TestWholeFileCheckOncePerStampedFile(t *testing.T) {
	if os.Geteuid() != 0 {
		testskip.Skip(t, "FUSE passthrough needs CAP_SYS_ADMIN; not running as root")
	}
	r := regiontest.New(t, testSecret)
	data := randBytes(41, 2*digest.BlockSize+11)
	r.SetTree(files{"f": data}.tree(r, "g1"))
	cfg := testConfig(t, r.URL())
	path := filepath.Join(cfg.Mountpoint, "f")
	checks := func(m *Mount) (int64, int64) {
		st := xattrStatus(t, cfg.Mountpoint)
		return st.Reads.WholeFileChecks, st.Cache.Passthrough
	}

	m := start(t, cfg)
	mustRead(t, path, data)
	testpoll.Until(t, 20*time.Second, "a passthrough open", func() bool {
		mustRead(t, path, data)
		_, pt := checks(m)
		return pt > 0
	})
	if n, _ := checks(m); n != 1 {
		t.Fatalf("first mount: %d whole-file checks, want 1", n)
	}
	m.Close()

	m = start(t, cfg)
	mustRead(t, path, data)
	if n, pt := checks(m); n != 0 || pt != 1 {
		t.Errorf("after a clean restart: %d whole-file checks (want 0), %d passthrough opens (want 1)", n, pt)
	}
	m.Close()

	// Touch the content file: its stamp no longer matches.
	d := digest.Of(data).String()
	content := filepath.Join(cfg.CacheDir, "files", d[:2], d)
	if err := os.Chmod(content, 0o600); err != nil {
		t.Fatal(err)
	}
	m = start(t, cfg)
	mustRead(t, path, data)
	if n, pt := checks(m); n != 1 || pt != 1 {
		t.Errorf("after the content file changed: %d whole-file checks (want 1), %d passthrough opens (want 1)", n, pt)
	}
}
