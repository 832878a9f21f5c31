package region_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region"
	"github.com/bootfs/bootfs/region/db"
)

// addSourceReleases points r at mirror m, selecting only the given Ubuntu
// releases (and, as always, the bootloaders).
func addSourceReleases(t *testing.T, r *regiontest.Region, m *regiontest.Mirror, releases ...string) {
	t.Helper()
	key, err := os.ReadFile(m.KeyringPath)
	if err != nil {
		t.Fatal(err)
	}
	src := db.Source{URL: m.URL, Keyring: key}
	for _, rel := range releases {
		src.Selections = append(src.Selections, db.Selection{OS: "ubuntu", Release: rel})
	}
	if _, err := r.DB().AddSource(context.Background(), src); err != nil {
		t.Fatal(err)
	}
}

// removeSource does what `bootfs-region sources remove URL` does.
func removeSource(t *testing.T, r *regiontest.Region, u string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, r.URL()+wire.PathSources+"?url="+url.QueryEscape(u), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("remove source: %s", resp.Status)
	}
}

// pathsUnder returns the tree entries under prefix.
func pathsUnder(t *testing.T, r *regiontest.Region, prefix string) map[string]wire.Entry {
	t.Helper()
	out := map[string]wire.Entry{}
	for p, e := range byPath(r.Tree(t)) {
		if strings.HasPrefix(p, prefix) {
			out[p] = e
		}
	}
	return out
}

func inStore(dir, sha string) bool {
	_, err := os.Stat(filepath.Join(dir, sha))
	return err == nil
}

// Removing one of two sources retires its sets: they leave the tree at
// once, their files are deleted after the cleanup grace on every region,
// and a bad item of the removed source no longer fails later imports.
func TestSourceRemovalRetiresItsSets(t *testing.T) {
	const grace = 8 * time.Second
	ctx := context.Background()
	a := regiontest.NewMirror(t, regiontest.MirrorOptions{Releases: []string{"jammy"}})
	b := regiontest.NewMirror(t, regiontest.MirrorOptions{Releases: []string{"focal", "bionic"}})
	damage.FlipByte(t, filepath.Join(b.Root, "bionic/amd64/20250101/ga-18.04/generic/boot-initrd"), 10)
	rs := cluster(t, 2, nil, func(c *region.Config) {
		fastClaims(c)
		c.CleanupGrace = grace
	})
	addSourceReleases(t, rs[0], a, "jammy")
	addSourceReleases(t, rs[0], b, "focal", "bionic")
	if err := rs[0].ImportNow(ctx); err == nil || !strings.Contains(err.Error(), "bionic") {
		t.Fatalf("import with a bad bionic item: %v, want an error naming bionic", err)
	}
	const focal = "ubuntu/amd64/ga-20.04/focal/"
	regiontest.Eventually(t, 120*time.Second, "focal in both regions' trees, held by both", func() bool {
		for _, r := range rs {
			es := pathsUnder(t, r, focal)
			if len(es) == 0 {
				return false
			}
			for _, e := range es {
				if len(e.Regions) != 2 {
					return false
				}
			}
		}
		return true
	})
	var focalFiles []string
	for _, e := range pathsUnder(t, rs[0], focal) {
		focalFiles = append(focalFiles, e.SHA256.String())
	}
	for _, r := range rs {
		for _, sha := range focalFiles {
			if !inStore(r.Storage, sha) {
				t.Fatalf("%s lacks focal file %s before the removal", r.Name(), sha)
			}
		}
	}

	removed := time.Now()
	removeSource(t, rs[0], b.URL)
	regiontest.Eventually(t, 10*time.Second, "focal out of both regions' trees", func() bool {
		for _, r := range rs {
			if len(pathsUnder(t, r, focal)) > 0 {
				return false
			}
		}
		return true
	})
	if time.Since(removed) < grace-time.Second {
		for _, r := range rs {
			for _, sha := range focalFiles {
				if !inStore(r.Storage, sha) {
					t.Fatalf("%s deleted focal file %s before the grace was over", r.Name(), sha)
				}
			}
		}
	}
	if len(pathsUnder(t, rs[1], "ubuntu/amd64/ga-22.04/jammy/")) == 0 || len(pathsUnder(t, rs[1], "bootloaders/")) == 0 {
		t.Fatal("the remaining source's sets left the tree too")
	}
	regiontest.Eventually(t, 30*time.Second, "focal files deleted on both regions", func() bool {
		for _, r := range rs {
			for _, sha := range focalFiles {
				if inStore(r.Storage, sha) {
					return false
				}
			}
		}
		return true
	})
	if d := time.Since(removed); d < grace {
		t.Errorf("files deleted %s after the removal, before the %s grace", d, grace)
	}
	// The removed source's bad item no longer fails imports.
	if err := rs[1].ImportNow(ctx); err != nil {
		t.Fatalf("import after removing the source with the bad item: %v", err)
	}
	if len(pathsUnder(t, rs[0], "ubuntu/amd64/ga-22.04/jammy/")) == 0 {
		t.Fatal("jammy left the tree")
	}
}

// A product with an item upstream does not serve (404) fails alone: the
// other products are imported and published, the import is done, and its
// status names the failed product and why.
func TestUnfetchableItemFailsOnlyItsProduct(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	if err := os.Remove(filepath.Join(m.Root, "noble/amd64/20250101/ga-24.04/generic/boot-initrd")); err != nil {
		t.Fatal(err)
	}
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	err := r.ImportNow(context.Background())
	if err == nil || !strings.Contains(err.Error(), "noble") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("import: %v, want an error naming noble's 404", err)
	}
	files := byPath(r.Tree(t))
	for _, p := range []string{"ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel", "bootx64.efi", "bootloaders/pxe/i386/lpxelinux.0"} {
		if _, ok := files[p]; !ok {
			t.Errorf("tree lacks %s: the other products were not published", p)
		}
	}
	if _, ok := files["ubuntu/amd64/ga-24.04/noble/stable/boot-kernel"]; ok {
		t.Error("incomplete noble set offered")
	}
	var st wire.Status
	resp := r.Get(t, wire.PathStatus, nil)
	if err := decode(resp, &st); err != nil {
		t.Fatal(err)
	}
	// (A peer sync may run since, trying noble again: judge the import by
	// its outcome.)
	last := st.Import.LastImport
	if last == nil || last.State != "done" {
		t.Fatalf("last import %+v, want done: one product's failure is not the import's", last)
	}
	if len(last.FailedProducts) != 1 {
		t.Fatalf("failed products %+v, want noble's", last.FailedProducts)
	}
	f := last.FailedProducts[0]
	if f.Resource != "ubuntu/noble" || f.Architecture != "amd64/ga-24.04" || f.File != "boot-initrd" ||
		!strings.Contains(f.Product, "24.04") || !strings.Contains(f.Reason, "404") {
		t.Errorf("failed product %+v, want ubuntu/noble amd64/ga-24.04 boot-initrd with a 404", f)
	}
}
