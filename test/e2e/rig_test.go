package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/testskip"
	"github.com/bootfs/bootfs/internal/wire"
)

func TestMain(m *testing.M) {
	if c := os.Getenv(rackdEnv); c != "" {
		os.Exit(runRackd(c)) // the test binary re-executed as the rackd stand-in
	}
	pgtest.Main(m)
}

// Paths of the tree the tests read.
const (
	kernelPath = "ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"
	initrdPath = "ubuntu/amd64/ga-22.04/jammy/stable/boot-initrd"
	bigPath    = "ubuntu/amd64/ga-22.04/jammy/stable/squashfs" // ~18 MiB
	big2Path   = "ubuntu/amd64/ga-24.04/noble/stable/squashfs" // ~19 MiB
	loaderPath = "lpxelinux.0"
)

// rig is what the subtests share: a bootfs binary, a dev mirror whose
// kernel and initrd really boot, and two regions sharing one database, each
// with its own store and both holding every file.
type rig struct {
	bin        string // the bootfs binary
	repo       string // the module root
	mirror     *regiontest.Mirror
	regions    [2]*regiontest.Region
	secretFile string
	tree       wire.Tree
	marker     string // sha256 the test initrd's /init prints
	quiet      bool   // mounts log at info level (benchmarks), not debug
}

func (g *rig) logLevel() string {
	if g.quiet {
		return "info"
	}
	return "debug"
}

// newRig builds the rig; it is torn down when t ends.
func newRig(t *testing.T) *rig {
	t.Helper()
	requireRoot(t)
	g := &rig{repo: moduleRoot(t)}
	g.bin = buildBootfs(t, g.repo)

	dir := t.TempDir()
	kernel := debianKernel(t)
	initrd, marker := busyboxInitrd(t, dir)
	g.marker = marker
	start := time.Now()
	g.mirror = regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.02, Kernel: kernel, Initrd: initrd,
		SystemRoot: bootloaderRoot(t, dir)})

	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	g.regions[0] = regiontest.StartRegion(t, regiontest.Options{Name: "region1", DatabaseURL: db})
	g.secretFile = g.regions[0].SecretFile
	g.regions[0].AddSource(t, g.mirror)
	if err := g.regions[0].ImportNow(ctx); err != nil {
		t.Fatalf("region1 import: %v", err)
	}
	g.regions[1] = regiontest.StartRegion(t, regiontest.Options{Name: "region2", DatabaseURL: db, SecretFile: g.secretFile})
	if err := g.regions[1].ImportNow(ctx); err != nil {
		t.Fatalf("region2 import: %v", err)
	}
	regiontest.Eventually(t, 30*time.Second, "every set to be available on both regions", func() bool {
		var st wire.Status
		resp := g.regions[0].Get(t, wire.PathStatus, nil)
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Sets) == 0 {
			return false
		}
		for _, s := range st.Sets {
			if !s.Available || len(s.Held) != 2 {
				return false
			}
		}
		g.tree = g.regions[0].Tree(t)
		return g.tree.Generation == g.regions[1].Tree(t).Generation
	})
	t.Logf("rig ready in %s: %d files in the tree, regions %s and %s", time.Since(start).Round(time.Millisecond),
		len(g.tree.Files), g.regions[0].URL(), g.regions[1].URL())
	return g
}

// entry returns the tree entry at path.
func (g *rig) entry(path string) (wire.Entry, bool) {
	for _, e := range g.tree.Files {
		if e.Path == path {
			return e, true
		}
	}
	return wire.Entry{}, false
}

func (g *rig) mustEntry(t *testing.T, path string) wire.Entry {
	t.Helper()
	e, ok := g.entry(path)
	if !ok {
		t.Fatalf("no %s in the tree", path)
	}
	return e
}

// imageName returns the images/<filename_on_disk> name of the file at
// path, the hash MAAS 3.5 puts in boot paths.
func (g *rig) imageName(t *testing.T, path string) string {
	t.Helper()
	e := g.mustEntry(t, path)
	for _, f := range g.tree.Files {
		if f.SHA256 == e.SHA256 && strings.HasPrefix(f.Path, "images/") {
			return strings.TrimPrefix(f.Path, "images/")
		}
	}
	t.Fatalf("no images/ entry for %s", path)
	return ""
}

// want returns the bytes of the file at path, read from region1's store
// (and checked against the tree's sha256).
func (g *rig) want(t *testing.T, path string) []byte {
	t.Helper()
	e := g.mustEntry(t, path)
	b, err := os.ReadFile(filepath.Join(g.regions[0].Storage, e.SHA256.String()))
	if err != nil {
		t.Fatal(err)
	}
	if digest.Of(b) != e.SHA256 {
		t.Fatalf("region1's copy of %s does not match its sha256", path)
	}
	return b
}

// sources returns the region URLs as a bootfs SOURCE.
func (g *rig) sources() string {
	return g.regions[0].URL() + "," + g.regions[1].URL()
}

// regionBlobBytes returns the blob body bytes region i has sent, from its
// own Prometheus metrics.
func (g *rig) regionBlobBytes(t *testing.T, i int) int64 {
	t.Helper()
	resp := g.regions[i].Get(t, wire.PathMetrics, nil)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), `bootfs_region_http_sent_bytes_total{endpoint="blob"} `); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int64(f)
		}
	}
	return 0
}

// moduleRoot returns the directory of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// buildBootfs builds cmd/bootfs into a temporary directory, with the race
// detector when the tests have it.
func buildBootfs(t *testing.T, repo string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootfs")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/bootfs")...)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/bootfs: %v\n%s", err, out)
	}
	return bin
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testskip.Skip(t, "the rack end-to-end tests need root (FUSE mounts, tftpd-hpa, network namespaces)")
	}
}

// httpGet fetches url with an optional Range and returns the status and body.
func httpGet(t *testing.T, url, rng string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header, b
}

func toJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
