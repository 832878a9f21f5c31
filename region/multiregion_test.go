package region_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region"
)

// cluster starts n regions sharing one database and secret.
func cluster(t testing.TB, n int, storage func(i int) string, cfg func(*region.Config)) []*regiontest.Region {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	secret := filepath.Join(t.TempDir(), "secret")
	mustWrite(t, secret, "cluster-secret\n")
	var out []*regiontest.Region
	for i := 1; i <= n; i++ {
		o := regiontest.Options{Name: "r" + strconv.Itoa(i), DatabaseURL: dbURL, SecretFile: secret, Config: cfg}
		if storage != nil {
			o.Storage = storage(i)
		}
		out = append(out, regiontest.StartRegion(t, o))
	}
	return out
}

func fastClaims(c *region.Config) {
	c.ClaimTTL = 2 * time.Second
	c.SyncInterval = time.Second
	c.CleanupGrace = -1 // clean up replaced sets at once
}

// importAll runs an import on every region at once, as `bootfs-region
// import` asks every live region.
func importAll(t testing.TB, rs []*regiontest.Region) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(rs))
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.ImportNow(context.Background())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("import on %s: %v", rs[i].Name(), err)
		}
	}
}

// converged waits until every file of every set is held by every region.
func converged(t testing.TB, rs []*regiontest.Region, timeout time.Duration) {
	t.Helper()
	regiontest.Eventually(t, timeout, "every region to hold every file", func() bool {
		ctx := context.Background()
		wants := 0
		for _, r := range rs {
			w, err := r.DB().Wanted(ctx, r.ID())
			if err != nil {
				t.Fatal(err)
			}
			wants += len(w)
		}
		return wants == 0
	})
}

// upstreamItemBytes sums the distinct contents of the mirror's item files
// of importable types (not metadata, keyrings or manifests).
func upstreamItemBytes(t testing.TB, root string) int64 {
	t.Helper()
	seen := map[[32]byte]bool{}
	var total int64
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(rel, "streams/") || strings.HasPrefix(rel, "keyring") || strings.Contains(rel, "manifest") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if s := sha256.Sum256(b); !seen[s] {
			seen[s] = true
			total += int64(len(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// importedBytes reads a region's bootfs_region_import_bytes_total metric:
// bytes it downloaded from upstream (peer copies are not counted there).
func importedBytes(t *testing.T, r *regiontest.Region) float64 {
	t.Helper()
	sc := bufio.NewScanner(r.Get(t, wire.PathMetrics, nil).Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "bootfs_region_import_bytes_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s has no import bytes metric", r.Name())
	return 0
}

func storeSet(t *testing.T, dir string) []string {
	names := storeBlobs(t, dir)
	slices.Sort(names)
	return names
}

func TestThreeRegionsDownloadOnceAndConverge(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.01})
	m.BytesPerSec.Store(40 << 20) // a capped upstream, so the regions overlap
	rs := cluster(t, 3, nil, fastClaims)
	rs[0].AddSource(t, m)
	importAll(t, rs)
	converged(t, rs, 60*time.Second)

	metadata := m.Served("/streams/")
	items := m.Served("") - metadata
	want := upstreamItemBytes(t, m.Root)
	if items != want {
		t.Errorf("upstream served %d item bytes, want %d (each distinct file once)", items, want)
	}
	downloaders := 0
	var sum float64
	for _, r := range rs {
		b := importedBytes(t, r)
		sum += b
		if b > 0 {
			downloaders++
		}
		t.Logf("%s downloaded %.0f bytes from upstream", r.Name(), b)
	}
	if downloaders < 2 {
		t.Errorf("only %d region(s) downloaded from upstream; the work was not spread", downloaders)
	}
	if int64(sum) != want {
		t.Errorf("regions downloaded %.0f bytes from upstream in all, want %d", sum, want)
	}
	first := storeSet(t, rs[0].Storage)
	for _, r := range rs {
		assertStoreVerified(t, r.Storage)
		if got := storeSet(t, r.Storage); !slices.Equal(got, first) {
			t.Errorf("%s's store differs from r1's: %d vs %d files", r.Name(), len(got), len(first))
		}
	}
	// Every tree entry is held by all three.
	tree := rs[1].Tree(t)
	if len(tree.Files) == 0 {
		t.Fatal("empty tree")
	}
	for _, e := range tree.Files {
		if len(e.Regions) != 3 {
			t.Fatalf("%s held by %v", e.Path, e.Regions)
		}
	}
}

func TestJoiningRegionKeepsTheTree(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	rs := cluster(t, 1, nil, fastClaims)
	rs[0].AddSource(t, m)
	importAll(t, rs)
	before := len(rs[0].Tree(t).Files)
	if before == 0 {
		t.Fatal("empty tree after import")
	}
	// A new, empty region joins: what racks boot from must not vanish
	// while it catches up.
	r2 := regiontest.StartRegion(t, regiontest.Options{Name: "r2", DatabaseURL: rs[0].DBURL, SecretFile: rs[0].SecretFile, Config: fastClaims})
	if got := len(rs[0].Tree(t).Files); got != before {
		t.Fatalf("tree went from %d to %d files when an empty region joined", before, got)
	}
	converged(t, []*regiontest.Region{rs[0], r2}, 30*time.Second)
	regiontest.Eventually(t, 10*time.Second, "r2 listed as holder", func() bool {
		for _, e := range rs[0].Tree(t).Files {
			if !slices.Contains(e.Regions, "r2") {
				return false
			}
		}
		return true
	})
}

func kernelOf(t *testing.T, r *regiontest.Region) digest.Digest {
	t.Helper()
	return byPath(r.Tree(t))["ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"].SHA256
}

func TestNewVersionOnlyWhenLastRegionHasIt(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	rs := cluster(t, 3, nil, fastClaims)
	rs[0].AddSource(t, m)
	importAll(t, rs)
	converged(t, rs, 30*time.Second)
	regiontest.Eventually(t, 10*time.Second, "v1 offered", func() bool { return !kernelOf(t, rs[0]).IsZero() })
	v1 := kernelOf(t, rs[0])

	// r3 goes down; upstream publishes a new version.
	rs[2].Stop()
	m.Regenerate(t, regiontest.MirrorOptions{Version: "20250201"})
	rs[0].AddSource(t, m) // the dev mirror signs each run with a new key
	importAll(t, rs[:2])
	converged(t, rs[:2], 30*time.Second)
	if got := kernelOf(t, rs[0]); got != v1 {
		t.Fatalf("tree moved to the new version while r3 lacks it")
	}
	var st wire.Status
	if err := decode(rs[0].Get(t, wire.PathStatus, nil), &st); err != nil {
		t.Fatal(err)
	}
	heldBack := false
	for _, s := range st.Sets {
		if s.Version == "20250201" && slices.Contains(s.HeldBackBy, "r3") && !s.Available {
			heldBack = true
		}
	}
	if !heldBack {
		t.Errorf("status does not say r3 holds back 20250201: %+v", st.Sets)
	}

	// r3 comes back and copies the new set from its peers.
	r3 := regiontest.StartRegion(t, regiontest.Options{Name: "r3", DatabaseURL: rs[2].DBURL, Storage: rs[2].Storage,
		SecretFile: rs[2].SecretFile, Config: fastClaims})
	all := []*regiontest.Region{rs[0], rs[1], r3}
	converged(t, all, 30*time.Second)
	regiontest.Eventually(t, 10*time.Second, "the new version in the tree", func() bool {
		k := kernelOf(t, rs[0])
		return !k.IsZero() && k != v1
	})
	assertStoreVerified(t, r3.Storage)
	// The old set is cleaned up once the new one is complete everywhere.
	regiontest.Eventually(t, 20*time.Second, "the old kernel to leave every store", func() bool {
		for _, r := range all {
			if err := r.ImportNow(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(r.Storage, v1.String())); err == nil {
				return false
			}
		}
		return true
	})
}

func clusterB(b *testing.B, n int) []*regiontest.Region {
	return cluster(b, n, nil, func(c *region.Config) { c.SyncInterval = time.Second })
}
func importAllB(b *testing.B, rs []*regiontest.Region)   { importAll(b, rs) }
func upstreamItemBytesB(b *testing.B, root string) int64 { return upstreamItemBytes(b, root) }
