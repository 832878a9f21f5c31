package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack"
)

// testPrefetch: a mount with prefetch= (the bootfs binary, real regions)
// fetches the matching files of the tree it starts with into its cache
// without any read, and no other file; `bootfs status` shows the progress
// and the metrics count the bytes. A bad prefetch_rate is refused before
// anything is mounted.
func (g *rig) testPrefetch(t *testing.T) {
	p := newProxy(t, g.regions[0].URL())
	m := g.mount(t, mountSpec{source: p.URL(), opts: []string{"metrics=127.0.0.1:0",
		"prefetch=ubuntu/amd64/*/noble/stable/*", "prefetch_rate=200M/s"}})
	var want, files int64
	seen := map[digest.Digest]bool{}
	var noble []string
	for _, e := range g.tree.Files {
		if ok, _ := path.Match("ubuntu/amd64/*/noble/stable/*", e.Path); ok && e.Size > 0 {
			noble = append(noble, e.Path)
			if !seen[e.SHA256] { // one file however many paths name it
				seen[e.SHA256] = true
				want += e.Size
				files++
			}
		}
	}
	if files == 0 {
		t.Fatal("the rig's tree has no noble files")
	}
	var st rack.Status
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, err := g.run(t, []string{"status", "--json", m.dir})
		st = rack.Status{} // fields the JSON omits (current) must not keep old values
		if err == nil && json.Unmarshal([]byte(out), &st) == nil && st.Prefetch != nil &&
			st.Prefetch.FilesDone == files && st.Prefetch.Current == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %d noble files (%d bytes) not prefetched after 2m: status %v %s", files, want, err, out)
		}
	}
	pf := st.Prefetch
	if pf.BytesFetched != want || pf.BytesTotal != want || pf.Failed != 0 || st.Reads.Reads != 0 || st.Reads.BlockMisses != 0 {
		t.Errorf("prefetch %s, reads %s; want %d bytes of %d files fetched and no read", toJSON(pf), toJSON(st.Reads), want, files)
	}
	if got := p.blob(); got != want {
		t.Errorf("the region sent %d blob bytes for %d bytes of noble files", got, want)
	}
	// Reading them now asks no region.
	for _, p := range noble {
		sameBytes(t, p, readFile(t, m.path(p)), g.want(t, p))
	}
	if got := p.blob(); got != want {
		t.Errorf("reading the prefetched files fetched %d more bytes", got-want)
	}
	out, err := g.run(t, []string{"status", m.dir})
	if err != nil || !strings.Contains(out, "prefetch  ubuntu/amd64/*/noble/stable/*: ") {
		t.Errorf("bootfs status: %v, lacks the prefetch line:\n%s", err, out)
	}
	_, _, metrics := httpGet(t, "http://"+st.Metrics+"/metrics", "")
	for _, name := range []string{"bootfs_rack_prefetch_bytes_total ", "bootfs_rack_prefetch_files_total ", "bootfs_rack_prefetch_pending_bytes 0"} {
		if !strings.Contains(string(metrics), name) {
			t.Errorf("metrics lack %q", name)
		}
	}

	bad := g.newMountDirs(t, "")
	out, err = g.run(t, []string{g.sources(), bad.dir, "-o", bad.options("prefetch_rate=fast")})
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(out, `mount option prefetch_rate=fast: "fast" is not a rate: want SIZE/s, e.g. 50M/s or 1G/s`) {
		t.Errorf("prefetch_rate=fast: %v\n%s", err, out)
	}
	if isMounted(t, bad.dir) {
		t.Error("mounted with prefetch_rate=fast")
	}
}

// TestPrefetchNewSet: with prefetch=, a new version published and imported
// by a real region while the rack is mounted is fetched into the cache
// before any read, the matching files only (the new jammy files are not).
func TestPrefetchNewSet(t *testing.T) {
	requireRoot(t)
	g := &rig{repo: moduleRoot(t)}
	g.bin = buildBootfs(t, g.repo)
	opts := regiontest.MirrorOptions{Scale: 0.005, SystemRoot: t.TempDir()}
	mirror := regiontest.NewMirror(t, opts)
	r := regiontest.StartRegion(t, regiontest.Options{})
	g.secretFile = r.SecretFile
	r.AddSource(t, mirror)
	ctx := context.Background()
	if err := r.ImportNow(ctx); err != nil {
		t.Fatalf("import: %v", err)
	}
	m := g.mount(t, mountSpec{source: r.URL(), opts: []string{"prefetch=ubuntu/amd64/*/noble/stable/*", "prefetch_rate=100M/s"}})
	first := matching(r.Tree(t))
	waitPrefetched(t, m, int64(len(first)))

	opts.Version = "20260101"
	mirror.Regenerate(t, opts)
	r.AddSource(t, mirror) // the new keyring
	if err := r.ImportNow(ctx); err != nil {
		t.Fatalf("import of the new version: %v", err)
	}
	tree := r.Tree(t)
	now := matching(tree)
	var fresh []wire.Entry
	for d, e := range now {
		if _, ok := first[d]; !ok {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) == 0 {
		t.Fatal("the new version has no new noble files")
	}
	st := waitPrefetched(t, m, int64(len(first)+len(fresh)))
	for _, e := range fresh {
		if _, err := os.Stat(filepath.Join(m.cacheDir, "files", e.SHA256.Short(2), e.SHA256.String())); err != nil {
			t.Errorf("new %s not in the cache: %v", e.Path, err)
		}
	}
	for _, e := range tree.Files {
		if ok, _ := path.Match("ubuntu/amd64/*/jammy/stable/*", e.Path); ok {
			if _, err := os.Stat(filepath.Join(m.cacheDir, "files", e.SHA256.Short(2), e.SHA256.String())); err == nil {
				t.Errorf("%s does not match the glob but was cached", e.Path)
			}
		}
	}
	if st.Reads.Reads != 0 || st.Reads.BlockMisses != 0 || st.Prefetch.Failed != 0 {
		t.Errorf("reads %s, prefetch %s: want no read and no failure", toJSON(st.Reads), toJSON(st.Prefetch))
	}
}

// matching returns the files of t matching the noble glob, by sha256.
func matching(t wire.Tree) map[digest.Digest]wire.Entry {
	out := map[digest.Digest]wire.Entry{}
	for _, e := range t.Files {
		if ok, _ := path.Match("ubuntu/amd64/*/noble/stable/*", e.Path); ok && e.Size > 0 {
			out[e.SHA256] = e
		}
	}
	return out
}

// waitPrefetched waits until the mount's prefetcher has handled files
// files and is idle, and returns the status.
func waitPrefetched(t *testing.T, m *bootfsMount, files int64) rack.Status {
	t.Helper()
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st := m.status(t)
		if st.Prefetch != nil && st.Prefetch.FilesDone == files && st.Prefetch.Current == "" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d files not prefetched after 2m: %s", files, toJSON(st.Prefetch))
		}
	}
}
