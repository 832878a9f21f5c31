package devmirror

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/region/simplestreams"
)

const testScale = 0.001

// fakeSystem returns a system root holding small stand-ins for the
// bootloader package files, except syslinux-common's, and shim under a
// versioned name only (found through the glob).
func fakeSystem(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"usr/lib/shim/shimx64.efi.signed.latest":               "fake shim",
		"usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed": "fake grub",
		"usr/lib/PXELINUX/lpxelinux.0":                         "fake lpxelinux",
		"usr/lib/PXELINUX/pxelinux.0":                          "fake pxelinux",
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// generate runs Generate at testScale into a temporary directory, with
// fakeSystem's bootloader files unless o.SystemRoot is set: compressing
// the real bootloaders (5 MB) takes seconds, over ten with -race, so tests
// do not; TestFindInstalledMembers checks that the real ones are found.
func generate(t *testing.T, o Options) *Result {
	t.Helper()
	if o.SystemRoot == "" {
		o.SystemRoot = fakeSystem(t)
	}
	if o.Out == "" {
		o.Out = t.TempDir()
	}
	if o.Scale == 0 {
		o.Scale = testScale
	}
	res, err := Generate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// load serves root over HTTP and reads it back with simplestreams.Load.
func load(t *testing.T, res *Result, unsigned bool, keyringPath string) []simplestreams.Latest {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(res.Root)))
	t.Cleanup(srv.Close)
	src := simplestreams.Source{URL: srv.URL + "/", Unsigned: unsigned}
	if !unsigned {
		ring, err := os.ReadFile(keyringPath)
		if err != nil {
			t.Fatal(err)
		}
		src.Keyring = ring
	}
	got, err := simplestreams.Load(context.Background(), srv.Client(), src)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func fileDigest(t *testing.T, path string) (digest.Digest, int64) {
	t.Helper()
	d, n, err := digest.OfFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return d, n
}

// extract returns the members of an archive.tar.xz file.
func extract(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	err = simplestreams.ExtractArchive(f, func(name string, size int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err == nil && int64(len(b)) != size {
			err = errors.New("short member")
		}
		out[name] = b
		return err
	})
	if err != nil {
		t.Fatalf("extract %s: %v", path, err)
	}
	return out
}

// TestGenerateLoads writes a mirror and reads it back through
// simplestreams, signed (both keyrings) and unsigned.
func TestGenerateLoads(t *testing.T) {
	res := generate(t, Options{})
	signed := load(t, res, false, res.KeyringPath)
	if armored := load(t, res, false, res.ArmoredKeyringPath); !slices.EqualFunc(signed, armored, equalLatest) {
		t.Error("armored keyring gives another result")
	}
	if unsigned := load(t, res, true, ""); !slices.EqualFunc(signed, unsigned, equalLatest) {
		t.Error("unsigned load gives another result")
	}

	want := map[string]struct {
		resource, arch string
		items          []string
	}{
		"com.ubuntu.maas.stable:v3:boot:22.04:amd64:ga-22.04":          {"ubuntu/jammy", "amd64/ga-22.04", []string{"boot-initrd", "boot-kernel", "squashfs"}},
		"com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04":          {"ubuntu/noble", "amd64/ga-24.04", []string{"boot-initrd", "boot-kernel", "squashfs"}},
		"com.ubuntu.maas.stable:1:grub-efi-signed:uefi:amd64":          {"grub-efi-signed/uefi", "amd64/generic", []string{"grub2-signed", "shim-signed"}},
		"com.ubuntu.maas.stable:1:pxelinux:pxe:i386":                   {"pxelinux/pxe", "i386/generic", []string{"pxelinux", "syslinux-common"}},
		"com.ubuntu.maas.stable:1:grub-efi:uefi:arm64":                 {"grub-efi/uefi", "arm64/generic", []string{"grub2-signed", "shim-signed"}},
		"com.ubuntu.maas.stable:1:grub-ieee1275:open-firmware:ppc64el": {"grub-ieee1275/open-firmware", "ppc64el/generic", []string{"grub2"}},
	}
	if len(signed) != len(want) {
		t.Fatalf("%d products, want %d: %+v", len(signed), len(want), signed)
	}
	files, total := 0, int64(0)
	members := bootloaderMembers()
	for _, l := range signed {
		w, ok := want[l.Product.ID]
		if !ok {
			t.Errorf("unexpected product %s", l.Product.ID)
			continue
		}
		if l.Product.ResourceName() != w.resource || l.Product.ResourceArch() != w.arch || l.Version != DefaultVersion || l.Product.Label != "stable" {
			t.Errorf("%s: %s %s version %s label %s", l.Product.ID, l.Product.ResourceName(), l.Product.ResourceArch(), l.Version, l.Product.Label)
		}
		var names []string
		for _, it := range l.Items {
			names = append(names, it.Name)
			sum, size := fileDigest(t, filepath.Join(res.Root, filepath.FromSlash(it.Path)))
			if sum != it.SHA256 || size != it.Size {
				t.Errorf("%s %s: file has %s/%d, metadata %s/%d", l.Product.ID, it.Name, sum.Short(7), size, it.SHA256.Short(7), it.Size)
			}
			files++
			total += it.Size
			if it.Ftype == "archive.tar.xz" {
				checkArchive(t, res.Root, l.Product, it, members)
			}
		}
		if !slices.Equal(names, w.items) {
			t.Errorf("%s: items %v, want %v", l.Product.ID, names, w.items)
		}
		if l.Product.Release == "jammy" {
			checkImageSizes(t, l, releases["jammy"])
		}
		if l.Product.Release == "noble" {
			checkImageSizes(t, l, releases["noble"])
		}
	}
	// Result counts the manifests too, which Load skips.
	manifests := int64(0)
	for _, r := range []string{"jammy", "noble"} {
		_, n := fileDigest(t, filepath.Join(res.Root, r, "amd64", DefaultVersion, "squashfs.manifest"))
		manifests += n
	}
	if res.Files != files+2 || res.Bytes != total+manifests {
		t.Errorf("result counts %d files %d bytes, want %d and %d", res.Files, res.Bytes, files+2, total+manifests)
	}
	// The manifest is in the products file, with an ftype importers skip.
	doc, err := os.ReadFile(filepath.Join(res.Root, "streams/v1/"+ImagesContentID+".json"))
	if err != nil || !bytes.Contains(doc, []byte(`"ftype": "manifest"`)) {
		t.Errorf("no manifest item in the products file: %v", err)
	}
}

func equalLatest(a, b simplestreams.Latest) bool {
	return a.Product == b.Product && a.Version == b.Version && slices.Equal(a.Items, b.Items)
}

func checkImageSizes(t *testing.T, l simplestreams.Latest, r release) {
	t.Helper()
	want := map[string]int64{
		"boot-kernel": int64(float64(r.kernel) * testScale),
		"boot-initrd": int64(float64(r.initrd) * testScale),
		"squashfs":    int64(float64(r.squashfs) * testScale),
	}
	for _, it := range l.Items {
		if it.Size != want[it.Name] {
			t.Errorf("%s %s: size %d, want %d", l.Product.Release, it.Name, it.Size, want[it.Name])
		}
	}
}

// checkArchive extracts a bootloader item and checks its member names;
// TestGenerateInstalledFiles checks their content.
func checkArchive(t *testing.T, root string, p simplestreams.Product, it simplestreams.Item, members map[string][]string) {
	t.Helper()
	key := p.BootloaderType + "/" + p.Arch + "/" + it.Name + ".tar.xz"
	got := extract(t, filepath.Join(root, filepath.FromSlash(it.Path)))
	var names []string
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(members[key]))
	if len(want) == 0 || !slices.Equal(names, want) {
		t.Errorf("%s: members %v, want %v", key, names, want)
	}
}

// docs reads the unsigned metadata documents of a mirror.
func docs(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{"index", ImagesContentID, BootloadersContentID} {
		b, err := os.ReadFile(filepath.Join(root, "streams", "v1", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

func digests(t *testing.T, res *Result) map[string]digest.Digest {
	t.Helper()
	out := map[string]digest.Digest{}
	for _, l := range load(t, res, true, "") {
		for _, it := range l.Items {
			out[l.Product.ID+" "+it.Name] = it.SHA256
		}
	}
	return out
}

func TestGenerateDeterministic(t *testing.T) {
	a := generate(t, Options{})
	b := generate(t, Options{})
	// Same options: the same unsigned documents, byte for byte, hence the
	// same sha256s; only the throwaway keys differ.
	da, db := docs(t, a.Root), docs(t, b.Root)
	for name := range da {
		if !bytes.Equal(da[name], db[name]) {
			t.Errorf("%s.json differs between runs", name)
		}
	}
	ka, _ := os.ReadFile(a.KeyringPath)
	kb, _ := os.ReadFile(b.KeyringPath)
	if len(ka) == 0 || bytes.Equal(ka, kb) {
		t.Errorf("keyrings: %d bytes, equal %v; want a new key per run", len(ka), bytes.Equal(ka, kb))
	}

	// A new version: new image files, same bootloader archives (the
	// installed files or synthetic ones do not depend on the version).
	c := generate(t, Options{Version: "20250718.1"})
	old, next := digests(t, a), digests(t, c)
	if len(old) != 13 || len(next) != 13 {
		t.Fatalf("%d and %d items, want 13", len(old), len(next))
	}
	for k, d := range old {
		isImage := strings.Contains(k, ":v3:boot:")
		if isImage && next[k] == d {
			t.Errorf("%s: same sha256 in another version", k)
		}
		if !isImage && next[k] != d {
			t.Errorf("%s: bootloader archive changed with the version", k)
		}
	}
	got := load(t, c, false, c.KeyringPath)
	if got[0].Version != "20250718.1" || !strings.Contains(got[0].Items[0].Path, "/20250718.1/") {
		t.Errorf("version not used: %+v", got[0])
	}
	// All files differ from each other (no accidental shared seed).
	seen := map[digest.Digest]string{}
	for k, d := range old {
		if prev, dup := seen[d]; dup {
			t.Errorf("%s and %s have the same content", k, prev)
		}
		seen[d] = k
	}
}
