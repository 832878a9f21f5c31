package region_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/tmpfs"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
)

func TestRegionKilledMidDownload(t *testing.T) {
	bin := buildRegion(t)
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.02})
	m.BytesPerSec.Store(3 << 20)
	dbURL := pgtest.NewDatabase(t)
	secret := filepath.Join(t.TempDir(), "secret")
	mustWrite(t, secret, "cluster-secret\n")
	store1 := filepath.Join(t.TempDir(), "store")
	p := newRegionProc(t, bin, "--database-url", dbURL, "--storage", store1, "--secret-file", secret,
		"--name", "r1", "--claim-ttl", "2s", "--sync-interval", "1s")
	r1 := p.start()
	ctx := context.Background()
	d := addSource(t, dbURL, m)
	post(t, p.base+wire.PathImport, "cluster-secret")
	partial := partialOver(t, store1, 1<<20)
	kill9(t, r1)
	m.BytesPerSec.Store(0)

	// r2 takes over r1's claims once they expire and finishes the files.
	r2 := regiontest.StartRegion(t, regiontest.Options{Name: "r2", DatabaseURL: dbURL, SecretFile: secret, Config: fastClaims})
	if err := r2.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	sha := digest.MustParse(partial)
	held, err := d.Held(ctx, r2.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := held[sha]; !ok {
		t.Fatalf("r2 does not hold %s, the file r1 was downloading", partial)
	}
	// r1 catches up after restart, from its partial file and its peer.
	p.start()
	regiontest.Eventually(t, 60*time.Second, "r1 to catch up", func() bool {
		regions, err := d.Regions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range regions {
			if r.Name == "r1" {
				w, err := d.Wanted(ctx, r.ID)
				return err == nil && len(w) == 0
			}
		}
		return false
	})
	assertStoreVerified(t, store1)
	assertStoreVerified(t, r2.Storage)
	if a, b := storeSet(t, store1), storeSet(t, r2.Storage); !slices.Equal(a, b) {
		t.Errorf("stores differ: r1 %d files, r2 %d", len(a), len(b))
	}
}

func TestRegionShortOfDisk(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	// r3's disk holds the first version and the 100 MiB reserve, not a second version.
	small := tmpfs.Mount(t, "116m")
	rs := cluster(t, 3, func(i int) string {
		if i == 3 {
			return filepath.Join(small, "store")
		}
		return ""
	}, fastClaims)
	rs[0].AddSource(t, m)
	importAll(t, rs)
	converged(t, rs, 30*time.Second)
	regiontest.Eventually(t, 10*time.Second, "v1 offered", func() bool { return !kernelOf(t, rs[0]).IsZero() })
	v1 := kernelOf(t, rs[0])

	m.Regenerate(t, regiontest.MirrorOptions{Version: "20250201", Scale: 0.004})
	rs[0].AddSource(t, m)
	ctx := context.Background()
	for _, r := range rs[:2] {
		if err := r.ImportNow(ctx); err != nil {
			t.Fatalf("import on %s: %v", r.Name(), err)
		}
	}
	converged(t, rs[:2], 30*time.Second)
	regiontest.Eventually(t, 20*time.Second, "r3's disk-space banner", func() bool {
		bs, err := rs[0].DB().Banners(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.Region == "r3" && strings.Contains(b.Message, "r3 needs") && strings.Contains(b.Message, small) {
				return true
			}
		}
		return false
	})
	if ents, _ := os.ReadDir(filepath.Join(small, "store", ".partial")); len(ents) != 0 {
		t.Errorf("r3 started %d downloads despite too little space", len(ents))
	}
	if got := kernelOf(t, rs[0]); got != v1 {
		t.Fatal("the new set is offered though r3 lacks it")
	}
	// The operator removes r3: the new set becomes available.
	req, _ := http.NewRequest("DELETE", rs[0].URL()+wire.PathRegions+"/r3", nil)
	req.Header.Set("Authorization", "Bearer "+rs[0].Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("remove r3: %v %v", resp, err)
	}
	resp.Body.Close()
	regiontest.Eventually(t, 15*time.Second, "the new version in the tree", func() bool {
		k := kernelOf(t, rs[0])
		return !k.IsZero() && k != v1
	})
	for _, e := range rs[0].Tree(t).Files {
		if slices.Contains(e.Regions, "r3") {
			t.Fatalf("removed region still listed as holding %s", e.Path)
		}
	}
}
