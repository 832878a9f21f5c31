package region_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region"
	"github.com/bootfs/bootfs/region/db"
)

// call sends an authenticated API request with a JSON body (nil: none)
// and returns the status and body.
func call(t *testing.T, r *regiontest.Region, method, path string, in any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.URL()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.Secret)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// callOK is call that fails the test unless the answer is 200, decoding
// the body into out (strictly: unknown fields fail).
func callOK(t *testing.T, r *regiontest.Region, method, path string, in, out any) {
	t.Helper()
	code, b := call(t, r, method, path, in)
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

func keyring(t *testing.T, m *regiontest.Mirror) []byte {
	t.Helper()
	b, err := os.ReadFile(m.KeyringPath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sel(os, release string, arches ...string) wire.Selection {
	return wire.Selection{OS: os, Release: release, Arches: arches}
}

func listSources(t *testing.T, r *regiontest.Region) []wire.Source {
	t.Helper()
	var srcs []wire.Source
	callOK(t, r, "GET", wire.PathSources, nil, &srcs)
	return srcs
}

func listImages(t *testing.T, r *regiontest.Region) []wire.Image {
	t.Helper()
	var imgs []wire.Image
	callOK(t, r, "GET", wire.PathImages, nil, &imgs)
	return imgs
}

func image(imgs []wire.Image, name, arch string) (wire.Image, bool) {
	i := slices.IndexFunc(imgs, func(m wire.Image) bool { return m.Name == name && m.Architecture == arch })
	if i < 0 {
		return wire.Image{}, false
	}
	return imgs[i], true
}

// hasPrefix reports whether the tree has a file under prefix.
func hasPrefix(tree wire.Tree, prefix string) bool {
	return slices.ContainsFunc(tree.Files, func(e wire.Entry) bool { return strings.HasPrefix(e.Path, prefix) })
}

const (
	jammyDir  = "ubuntu/amd64/ga-22.04/jammy/"
	nobleDir  = "ubuntu/amd64/ga-24.04/noble/"
	focalDir  = "ubuntu/amd64/ga-20.04/focal/"
	bionicDir = "ubuntu/amd64/ga-18.04/bionic/"
)

// `sources add` checks the mirror with the keyring before saving: a bad
// keyring, an unreachable URL, a wrong key, a URL that is not a mirror
// root are refused with what to fix and save nothing; a selection that
// matches nothing is a warning; an existing URL is refused (update it).
func TestSourcesAddValidates(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Releases: []string{"jammy"}})
	other := regiontest.NewMirror(t, regiontest.MirrorOptions{Releases: []string{"jammy"}})
	r := regiontest.StartRegion(t, regiontest.Options{})
	dead := httpDeadURL(t)
	for _, c := range []struct {
		name string
		src  wire.Source
		want []string
	}{
		{"bad keyring", wire.Source{URL: m.URL, Keyring: []byte("not a keyring")},
			[]string{"bad keyring: read keyring:", "pass the OpenPGP public keyring that signs the mirror", "--keyring FILE"}},
		{"unreachable", wire.Source{URL: dead, Keyring: keyring(t, m)},
			[]string{"cannot reach the mirror:", dead, "check the URL, and that this region can reach it"}},
		{"wrong key", wire.Source{URL: m.URL, Keyring: keyring(t, other)},
			[]string{"signature check failed:", "bad or missing signature", "the keyring does not verify this mirror",
				"--keyring FILE"}},
		{"not the root", wire.Source{URL: m.URL + "streams/", Keyring: keyring(t, m)},
			[]string{"mirror answered 404 Not Found for " + m.URL + "streams/streams/v1/index.sjson",
				"check that the URL is the mirror root"}},
	} {
		code, msg := call(t, r, "POST", wire.PathSources, c.src)
		if code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s, want 422", c.name, code, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(string(msg), w) {
				t.Errorf("%s: message %q lacks %q", c.name, msg, w)
			}
		}
	}
	if srcs := listSources(t, r); len(srcs) != 0 {
		t.Fatalf("refused sources were saved: %+v", srcs)
	}

	var res wire.SourceResult
	callOK(t, r, "POST", wire.PathSources, wire.Source{URL: m.URL, Keyring: keyring(t, m),
		Selections: []wire.Selection{sel("ubuntu", "jammy"), sel("ubuntu", "noble"), sel("centos", "centos70")}}, &res)
	want := []string{
		"selection ubuntu/noble matches nothing the mirror offers (see `bootfs-region sources available " + m.URL + "`)",
		"selection centos/centos70 matches nothing the mirror offers (see `bootfs-region sources available " + m.URL + "`)",
	}
	if !slices.Equal(res.Warnings, want) {
		t.Errorf("warnings %q, want %q", res.Warnings, want)
	}
	if res.Products != 5 { // jammy and the four bootloaders
		t.Errorf("%d products selected, want 5", res.Products)
	}

	code, msg := call(t, r, "POST", wire.PathSources, wire.Source{URL: m.URL, Keyring: keyring(t, m)})
	if code != http.StatusConflict || !strings.Contains(string(msg), "source "+m.URL+" exists already") ||
		!strings.Contains(string(msg), "bootfs-region sources update URL") {
		t.Errorf("adding an existing URL: %d %s, want 409 pointing at sources update", code, msg)
	}
	if srcs := listSources(t, r); len(srcs) != 1 || len(srcs[0].Selections) != 3 {
		t.Errorf("the refused re-add changed the source: %+v", srcs)
	}
	code, msg = call(t, r, "PUT", wire.PathSources, wire.Source{URL: other.URL, Keyring: keyring(t, other)})
	if code != http.StatusNotFound || !strings.Contains(string(msg), "sources add") {
		t.Errorf("updating an unknown URL: %d %s, want 404 pointing at sources add", code, msg)
	}
	// Two selections of one os and release are refused, not half-saved.
	code, msg = call(t, r, "PUT", wire.PathSources, wire.Source{URL: m.URL, Keyring: keyring(t, m),
		Selections: []wire.Selection{sel("ubuntu", "jammy", "amd64"), sel("ubuntu", "jammy", "arm64")}})
	if code != http.StatusBadRequest || !strings.Contains(string(msg), "two selections of ubuntu/jammy") {
		t.Errorf("duplicate selection: %d %s", code, msg)
	}
}

// httpDeadURL returns an http URL nothing listens on.
func httpDeadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String() + "/"
	ln.Close()
	return u
}

// An import with several selections takes exactly what they pick (and the
// bootloaders); `sources update` changing the selections retires what
// none picks any more: it leaves the tree at once.
func TestMultiSelectionImportAndUpdate(t *testing.T) {
	ctx := context.Background()
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Releases: []string{"bionic", "focal", "jammy", "noble"}})
	r := regiontest.StartRegion(t, regiontest.Options{})
	var res wire.SourceResult
	// As `--select ubuntu/jammy,noble --select ubuntu/bionic/arm64` sends it.
	callOK(t, r, "POST", wire.PathSources, wire.Source{URL: m.URL, Keyring: keyring(t, m), Selections: []wire.Selection{
		sel("ubuntu", "jammy"), sel("ubuntu", "noble"), sel("ubuntu", "bionic", "arm64")}}, &res)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "selection ubuntu/bionic/arm64 matches nothing") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	tree := r.Tree(t)
	for dir, want := range map[string]bool{jammyDir: true, nobleDir: true, focalDir: false, bionicDir: false,
		"bootloaders/uefi/amd64/": true} {
		if hasPrefix(tree, dir) != want {
			t.Errorf("tree has %s: %v, want %v", dir, !want, want)
		}
	}
	var names []string
	for _, img := range listImages(t, r) {
		names = append(names, img.Name+" "+img.Architecture)
	}
	if want := []string{"grub-efi-signed/uefi amd64/generic", "grub-efi/uefi arm64/generic",
		"grub-ieee1275/open-firmware ppc64el/generic", "pxelinux/pxe i386/generic",
		"ubuntu/jammy amd64/ga-22.04", "ubuntu/noble amd64/ga-24.04"}; !slices.Equal(names, want) {
		t.Errorf("images %q, want %q", names, want)
	}

	// sources update: noble out, focal in.
	callOK(t, r, "PUT", wire.PathSources, wire.Source{URL: m.URL, Keyring: keyring(t, m), Selections: []wire.Selection{
		sel("ubuntu", "jammy"), sel("ubuntu", "focal")}}, &res)
	if res.Retired != 1 {
		t.Errorf("update retired %d sets, want 1 (noble)", res.Retired)
	}
	if tree := r.Tree(t); hasPrefix(tree, nobleDir) || !hasPrefix(tree, jammyDir) {
		t.Errorf("right after the update: noble in the tree %v, jammy %v", hasPrefix(tree, nobleDir), hasPrefix(tree, jammyDir))
	}
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	tree = r.Tree(t)
	if !hasPrefix(tree, focalDir) || hasPrefix(tree, nobleDir) {
		t.Errorf("after the next import: focal %v (want true), noble %v (want false)", hasPrefix(tree, focalDir), hasPrefix(tree, nobleDir))
	}
	noble, _ := image(listImages(t, r), "ubuntu/noble", "amd64/ga-24.04")
	if len(noble.Versions) != 1 || noble.Versions[0].Retired == nil || noble.Versions[0].Offered {
		t.Errorf("noble after the update: %+v, want one retired version", noble)
	}
	// An update of the priority alone keeps the selections.
	callOK(t, r, "PUT", wire.PathSources, wire.Source{URL: m.URL, Keyring: keyring(t, m), Priority: 3,
		Selections: listSources(t, r)[0].Selections}, &res)
	if s := listSources(t, r)[0]; s.Priority != 3 || len(s.Selections) != 2 {
		t.Errorf("after a priority update: %+v", s)
	}
}

// When two mirrors carry the same product, the higher priority wins even
// with an older version; raising the other's priority switches it over
// (the loser's sets leave the tree) without the resource ever leaving the
// tree, even with replaced sets cleaned up at once.
func TestSourcePriority(t *testing.T) {
	ctx := context.Background()
	older := regiontest.NewMirror(t, regiontest.MirrorOptions{Releases: []string{"jammy"}, Version: "20250101"})
	newer := regiontest.NewMirror(t, regiontest.MirrorOptions{Releases: []string{"jammy"}, Version: "20250301"})
	r := regiontest.StartRegion(t, regiontest.Options{Config: func(c *region.Config) {
		c.CleanupGrace = -1
		c.SyncInterval = time.Second
	}})
	callOK(t, r, "POST", wire.PathSources, wire.Source{URL: older.URL, Keyring: keyring(t, older), Priority: 0}, nil)
	callOK(t, r, "POST", wire.PathSources, wire.Source{URL: newer.URL, Keyring: keyring(t, newer), Priority: -5}, nil)
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	const kernelPath = "ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"
	kernel := func(m *regiontest.Mirror, version string) string {
		return fileSHA(t, filepath.Join(m.Root, "jammy/amd64", version, "ga-22.04/generic/boot-kernel"))
	}
	got := byPath(r.Tree(t))[kernelPath].SHA256.String()
	if got != kernel(older, "20250101") {
		t.Fatalf("tree's kernel %s is not the priority-0 mirror's (older) one", got)
	}
	jammy, _ := image(listImages(t, r), "ubuntu/jammy", "amd64/ga-22.04")
	if jammy.Source != older.URL || len(jammy.Versions) != 1 || jammy.Versions[0].Version != "20250101" || !jammy.Versions[0].Offered {
		t.Fatalf("jammy: %+v, want only 20250101 from %s, offered", jammy, older.URL)
	}
	if newer.Served("jammy/") != 0 {
		t.Errorf("%d bytes of the losing mirror's jammy fetched", newer.Served("jammy/"))
	}

	// The newer mirror gets the higher priority: its version wins, and the
	// tree shows one kernel or the other all along.
	stop := make(chan struct{})
	watched := make(chan []string)
	go func() {
		var missing []string
		for {
			select {
			case <-stop:
				watched <- missing
				return
			case <-time.After(20 * time.Millisecond):
			}
			tree := r.Tree(t)
			if _, ok := byPath(tree)[kernelPath]; !ok {
				missing = append(missing, tree.Generation)
			}
		}
	}()
	var res wire.SourceResult
	callOK(t, r, "PUT", wire.PathSources, wire.Source{URL: newer.URL, Keyring: keyring(t, newer), Priority: 20,
		Selections: []wire.Selection{sel("*", "*")}}, &res)
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	regiontest.Eventually(t, 20*time.Second, "the priority-20 mirror's kernel in the tree", func() bool {
		return byPath(r.Tree(t))[kernelPath].SHA256.String() == kernel(newer, "20250301")
	})
	close(stop)
	if missing := <-watched; len(missing) > 0 {
		t.Errorf("jammy's kernel missing from %d trees during the switch (generations %q)", len(missing), missing)
	}
	jammy, _ = image(listImages(t, r), "ubuntu/jammy", "amd64/ga-22.04")
	var states []string
	for _, v := range jammy.Versions {
		states = append(states, v.Version+" offered="+boolStr(v.Offered)+" retired="+boolStr(v.Retired != nil))
	}
	// The loser's set was retired, then deleted at once (no grace here).
	if want := []string{"20250301 offered=true retired=false"}; !slices.Equal(states, want) {
		t.Errorf("jammy versions %q, want %q", states, want)
	}

	// And back: the older mirror's version is imported and offered again.
	callOK(t, r, "PUT", wire.PathSources, wire.Source{URL: newer.URL, Keyring: keyring(t, newer), Priority: -5,
		Selections: []wire.Selection{sel("*", "*")}}, &res)
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	regiontest.Eventually(t, 20*time.Second, "the older mirror's kernel back in the tree", func() bool {
		return byPath(r.Tree(t))[kernelPath].SHA256.String() == kernel(older, "20250101")
	})
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// `images delete` of an upstream image a selection picks is refused with
// what to do; with deselect it leaves the tree of both regions and of a
// mounted rack at once, the selection no longer picks it, and its files go
// from both stores after the cleanup grace.
func TestImagesDeleteEverywhere(t *testing.T) {
	const grace = 6 * time.Second
	ctx := context.Background()
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Releases: []string{"jammy", "noble"}})
	rs := cluster(t, 2, nil, func(c *region.Config) {
		fastClaims(c)
		c.CleanupGrace = grace
	})
	callOK(t, rs[0], "POST", wire.PathSources, wire.Source{URL: m.URL, Keyring: keyring(t, m),
		Selections: []wire.Selection{sel("ubuntu", "*")}}, nil)
	importAll(t, rs)
	// Each region answers from its own last tree build: wait until both
	// offer noble (the first to see it complete may answer before the
	// other rebuilt its tree; a CI run read r1 still holding it back).
	regiontest.Eventually(t, 60*time.Second, "noble offered, held by both regions, in both regions' lists and r1's tree", func() bool {
		for _, r := range rs {
			img, ok := image(listImages(t, r), "ubuntu/noble", "amd64/ga-24.04")
			if !ok || len(img.Versions) != 1 || !img.Versions[0].Offered || len(img.Versions[0].HeldBy) != 2 {
				return false
			}
		}
		return hasPrefix(rs[0].Tree(t), nobleDir)
	})
	imgs := listImages(t, rs[0])
	noble, _ := image(imgs, "ubuntu/noble", "amd64/ga-24.04")
	v := noble.Versions[0]
	if noble.Origin != "upstream" || noble.Source != m.URL || v.Version != "20250101" || v.Label != "stable" ||
		v.Files != 3 || v.Size <= 0 || !slices.Equal(v.HeldBy, []string{"r1", "r2"}) || len(v.HeldBackBy) != 0 ||
		v.Retired != nil || v.Created.IsZero() {
		t.Errorf("images list: noble %+v", noble)
	}
	var nobleFiles []string
	var size int64
	for _, e := range rs[0].Tree(t).Files {
		if strings.HasPrefix(e.Path, nobleDir) {
			nobleFiles = append(nobleFiles, e.SHA256.String())
			size += e.Size
		}
	}
	if size != v.Size {
		t.Errorf("noble's size %d, the tree's files %d", v.Size, size)
	}
	rack := mountRack(t, rs)

	del := func(q string) (int, string) {
		code, b := call(t, rs[0], "DELETE", wire.PathImages+"?"+q, nil)
		return code, string(b)
	}
	if code, msg := del("name=nosuch"); code != http.StatusNotFound || !strings.Contains(msg, "no image custom/nosuch") {
		t.Errorf("delete of an unknown image: %d %s", code, msg)
	}
	code, msg := del("name=ubuntu/noble")
	if code != http.StatusConflict || !strings.Contains(msg, "ubuntu/noble is still selected by source "+m.URL+" (selection ubuntu/*)") ||
		!strings.Contains(msg, "--deselect") || !strings.Contains(msg, "sources update") {
		t.Fatalf("delete of a selected image: %d %s", code, msg)
	}
	if !hasPrefix(rs[1].Tree(t), nobleDir) {
		t.Fatal("a refused delete withdrew noble")
	}

	var res wire.ImageDeleted
	deleted := time.Now()
	callOK(t, rs[0], "DELETE", wire.PathImages+"?"+url.Values{"name": {"ubuntu/noble"}, "deselect": {"1"}}.Encode(), nil, &res)
	if res.Retired != 1 || len(res.Images) != 1 || res.Images[0].Versions[0].Retired == nil ||
		!slices.Equal(res.Deselected, []string{"source " + m.URL + ": selections ubuntu/* became ubuntu/jammy"}) {
		t.Errorf("delete answered %+v", res)
	}
	regiontest.Eventually(t, 3*time.Second, "noble out of both regions' trees", func() bool {
		return !hasPrefix(rs[0].Tree(t), nobleDir) && !hasPrefix(rs[1].Tree(t), nobleDir) && hasPrefix(rs[1].Tree(t), jammyDir)
	})
	if rack != "" {
		regiontest.Eventually(t, 10*time.Second, "noble out of the rack's mounted tree", func() bool {
			_, err := os.Stat(filepath.Join(rack, nobleDir))
			return os.IsNotExist(err)
		})
		if _, err := os.Stat(filepath.Join(rack, jammyDir, "stable/boot-kernel")); err != nil {
			t.Errorf("jammy in the rack's tree: %v", err)
		}
	}
	if sels := listSources(t, rs[0])[0].Selections; len(sels) != 1 || sels[0].OS != "ubuntu" || sels[0].Release != "jammy" {
		t.Errorf("selections after --deselect: %+v", sels)
	}
	// An import does not bring it back.
	importAll(t, rs)
	if hasPrefix(rs[0].Tree(t), nobleDir) {
		t.Error("noble back after an import")
	}
	// Files stay until the grace is over, then go from both stores.
	for _, r := range rs {
		for _, sha := range nobleFiles {
			if time.Since(deleted) < grace-time.Second && !inStore(r.Storage, sha) {
				t.Errorf("%s deleted noble file %s before the grace", r.Name(), sha)
			}
		}
	}
	regiontest.Eventually(t, 60*time.Second, "noble's files gone from both stores", func() bool {
		for _, r := range rs {
			for _, sha := range nobleFiles {
				if inStore(r.Storage, sha) {
					return false
				}
			}
		}
		return true
	})
	if time.Since(deleted) < grace {
		t.Errorf("files deleted %s after the delete, before the %s grace", time.Since(deleted), grace)
	}
	if _, ok := image(listImages(t, rs[0]), "ubuntu/noble", "amd64/ga-24.04"); ok {
		t.Error("noble still listed after the grace")
	}
	_ = ctx
}

// `sources available` lists a mirror's products, for a configured source
// (its keyring) and for one given with its keyring.
func TestSourcesAvailable(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Releases: []string{"jammy", "noble"}})
	r := regiontest.StartRegion(t, regiontest.Options{})
	var posted, got []wire.AvailableProduct
	callOK(t, r, "POST", wire.PathAvailable, wire.Source{URL: m.URL, Keyring: keyring(t, m)}, &posted)
	if code, msg := call(t, r, "GET", wire.PathAvailable+"?url="+url.QueryEscape(m.URL), nil); code != http.StatusNotFound ||
		!strings.Contains(string(msg), "--keyring") {
		t.Errorf("GET for an unconfigured source: %d %s", code, msg)
	}
	r.AddSource(t, m)
	callOK(t, r, "GET", wire.PathAvailable+"?url="+url.QueryEscape(m.URL), nil, &got)
	var lines []string
	for _, p := range got {
		lines = append(lines, strings.Join([]string{p.OS, p.Release, p.Arch, strings.Join(p.Subarches, ","),
			strings.Join(p.Labels, ","), p.NewestVersion}, " "))
		if p.Size <= 0 {
			t.Errorf("%s/%s: size %d", p.OS, p.Release, p.Size)
		}
	}
	want := []string{
		"grub-efi uefi arm64  stable 20250101",
		"grub-efi-signed uefi amd64  stable 20250101",
		"grub-ieee1275 open-firmware ppc64el  stable 20250101",
		"pxelinux pxe i386  stable 20250101",
		"ubuntu jammy amd64 ga-22.04 stable 20250101",
		"ubuntu noble amd64 ga-24.04 stable 20250101",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("available:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if len(posted) != len(got) {
		t.Errorf("POST listed %d products, GET %d", len(posted), len(got))
	}
	// The size is the newest version's files: kernel, initrd, squashfs.
	var jammy int64
	for _, f := range []string{"ga-22.04/generic/boot-kernel", "ga-22.04/generic/boot-initrd", "squashfs"} {
		st, err := os.Stat(filepath.Join(m.Root, "jammy/amd64/20250101", f))
		if err != nil {
			t.Fatal(err)
		}
		jammy += st.Size()
	}
	if got[4].Size != jammy {
		t.Errorf("jammy size %d, want %d", got[4].Size, jammy)
	}
}

// Uploaded and migrated resources are listed with their origin and deleted
// without selection checks (a source selecting everything does not stop
// it); a bare NAME is custom/NAME.
func TestDeleteUploadedAndMigrated(t *testing.T) {
	ctx := context.Background()
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Releases: []string{"jammy"}})
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m) // selects */*
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	files := byPath(r.Tree(t))
	kernel, initrd := files[jammyDir+"stable/boot-kernel"], files[jammyDir+"stable/boot-initrd"]
	// Rows as an upload and the migration record them (no upstream URL),
	// with contents the region holds, so that they are offered at once.
	for _, rec := range []db.SetRecord{
		{Name: "custom/foo", Architecture: "amd64/generic", RType: db.RTypeUploaded, Version: "20260101.0", Label: "uploaded",
			Files: []db.FileRecord{{Filename: "root-tgz", Filetype: "root-tgz", SHA256: kernel.SHA256, Size: kernel.Size}}},
		{Name: "ubuntu/bionic", Architecture: "amd64/ga-18.04", Version: "20240101", Label: "stable",
			Files: []db.FileRecord{{Filename: "boot-initrd", Filetype: "boot-initrd", SHA256: initrd.SHA256, Size: initrd.Size}}},
	} {
		if _, err := r.DB().RecordSet(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	const fooPath, bionicPath = "custom/amd64/generic/foo/uploaded/root-tgz", bionicDir + "stable/boot-initrd"
	regiontest.Eventually(t, 10*time.Second, "the uploaded and migrated files in the tree", func() bool {
		f := byPath(r.Tree(t))
		_, a := f[fooPath]
		_, b := f[bionicPath]
		return a && b
	})
	imgs := listImages(t, r)
	foo, _ := image(imgs, "custom/foo", "amd64/generic")
	bionic, _ := image(imgs, "ubuntu/bionic", "amd64/ga-18.04")
	if foo.Origin != "uploaded" || foo.Source != "" || !foo.Versions[0].Offered || bionic.Origin != "migrated" || !bionic.Versions[0].Offered {
		t.Fatalf("foo %+v, bionic %+v", foo, bionic)
	}
	var res wire.ImageDeleted
	callOK(t, r, "DELETE", wire.PathImages+"?name=foo", nil, &res)
	callOK(t, r, "DELETE", wire.PathImages+"?name=ubuntu/bionic&architecture=amd64", nil, &res)
	if res.Retired != 1 || len(res.Deselected) != 0 {
		t.Errorf("delete of the migrated image: %+v", res)
	}
	f := byPath(r.Tree(t))
	if _, ok := f[fooPath]; ok {
		t.Error("deleted upload still in the tree")
	}
	if _, ok := f[bionicPath]; ok {
		t.Error("deleted migrated image still in the tree")
	}
	if _, ok := f[jammyDir+"stable/boot-kernel"]; !ok {
		t.Error("jammy's kernel (the same content as the upload) left the tree")
	}
	if s := listSources(t, r)[0].Selections; len(s) != 1 || s[0].OS != "*" {
		t.Errorf("selections changed: %+v", s)
	}
	// Cleanup keeps them retired: nothing selects them back.
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := byPath(r.Tree(t))[fooPath]; ok {
		t.Error("the upload came back after an import")
	}
}
