package devmirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
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

func generate(t *testing.T, o Options) *Result {
	t.Helper()
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
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return digest.FromHash(h), n
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
		"com.ubuntu.maas.stable:v3:boot:22.04:amd64:ga-22.04": {"ubuntu/jammy", "amd64/ga-22.04", []string{"boot-initrd", "boot-kernel", "squashfs"}},
		"com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04": {"ubuntu/noble", "amd64/ga-24.04", []string{"boot-initrd", "boot-kernel", "squashfs"}},
		"com.ubuntu.maas.stable:1:grub-efi-signed:uefi:amd64": {"grub-efi-signed/uefi", "amd64/generic", []string{"grub2-signed", "shim-signed"}},
		"com.ubuntu.maas.stable:1:pxelinux:pxe:i386":          {"pxelinux/pxe", "i386/generic", []string{"pxelinux", "syslinux-common"}},
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

// checkArchive extracts a bootloader item and compares its members with
// the installed package files (or checks the synthetic stand-ins).
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
	if !slices.Equal(names, want) {
		t.Fatalf("%s: members %v, want %v", key, names, want)
	}
	for _, b := range bootloaderSpecs {
		for _, a := range b.archives {
			if a.item != it.Name {
				continue
			}
			for _, f := range a.files {
				installed, err := os.ReadFile(f.paths[0])
				switch {
				case err == nil && !bytes.Equal(installed, got[f.member]):
					t.Errorf("%s %s: differs from %s", key, f.member, f.paths[0])
				case err != nil && len(got[f.member]) < minFileSize:
					t.Errorf("%s %s: synthetic member of %d bytes", key, f.member, len(got[f.member]))
				}
			}
		}
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
	if len(old) != 10 || len(next) != 10 {
		t.Fatalf("%d and %d items, want 10", len(old), len(next))
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

func TestGenerateSyntheticBootloaders(t *testing.T) {
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	res := generate(t, Options{SystemRoot: t.TempDir(), Log: log, Scale: 1e-9})
	warnings := strings.Count(logBuf.String(), "level=WARN")
	if warnings != 10 {
		t.Errorf("%d warnings, want one per missing file (10):\n%s", warnings, logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "package=shim-signed") || !strings.Contains(logBuf.String(), "member=bootx64.efi") {
		t.Errorf("warning does not name package and member:\n%s", logBuf.String())
	}
	members := bootloaderMembers()
	for _, l := range load(t, res, false, res.KeyringPath) {
		for _, it := range l.Items {
			if it.Ftype != "archive.tar.xz" {
				// Scale 1e-9: every synthetic file is the minimum size.
				if it.Size != minFileSize {
					t.Errorf("%s %s: %d bytes, want %d", l.Product.ID, it.Name, it.Size, minFileSize)
				}
				continue
			}
			key := l.Product.BootloaderType + "/" + l.Product.Arch + "/" + it.Name + ".tar.xz"
			got := extract(t, filepath.Join(res.Root, filepath.FromSlash(it.Path)))
			if len(got) != len(members[key]) {
				t.Errorf("%s: %d members, want %d", key, len(got), len(members[key]))
			}
			for _, m := range members[key] {
				if len(got[m]) != minFileSize {
					t.Errorf("%s %s: %d bytes, want %d", key, m, len(got[m]), minFileSize)
				}
			}
		}
	}
}

func TestGenerateRealKernel(t *testing.T) {
	dir := t.TempDir()
	kernel, initrd := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img")
	if err := os.WriteFile(kernel, bytes.Repeat([]byte("kernel"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(initrd, []byte("tiny initrd"), 0o644); err != nil {
		t.Fatal(err)
	}
	ks, kn := fileDigest(t, kernel)
	is, in := fileDigest(t, initrd)
	res := generate(t, Options{Kernel: kernel, Initrd: initrd, Releases: []string{"focal", "jammy", "noble"}})
	n := 0
	for _, l := range load(t, res, false, res.KeyringPath) {
		for _, it := range l.Items {
			switch it.Name {
			case "boot-kernel":
				n++
				if it.SHA256 != ks || it.Size != kn {
					t.Errorf("%s kernel: %s/%d, want the given file", l.Product.Release, it.SHA256.Short(7), it.Size)
				}
			case "boot-initrd":
				n++
				if it.SHA256 != is || it.Size != in {
					t.Errorf("%s initrd: %s/%d, want the given file", l.Product.Release, it.SHA256.Short(7), it.Size)
				}
			}
		}
	}
	if n != 6 {
		t.Errorf("%d kernels and initrds, want 6", n)
	}
	if _, err := Generate(context.Background(), Options{Out: t.TempDir(), Scale: testScale, Kernel: filepath.Join(dir, "missing")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing kernel file: %v", err)
	}
}

func TestGenerateOptions(t *testing.T) {
	out := t.TempDir()
	bad := map[string]Options{
		"no out":             {},
		"negative scale":     {Out: out, Scale: -1},
		"unknown release":    {Out: out, Releases: []string{"warty"}},
		"release twice":      {Out: out, Releases: []string{"jammy", "jammy"}},
		"escaping version":   {Out: out, Version: "../x"},
		"version with slash": {Out: out, Version: "2025/01"},
	}
	for name, o := range bad {
		if _, err := Generate(context.Background(), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("refused options wrote %d entries", len(entries))
	}
	o, err := Options{Out: out}.withDefaults()
	if err != nil || o.Scale != 1 || o.Version != DefaultVersion || !slices.Equal(o.Releases, []string{"jammy", "noble"}) {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	// Realistic sizes at scale 1: noble larger than jammy.
	j, n := releases["jammy"], releases["noble"]
	if o.scaled(j.squashfs) != j.squashfs || j.squashfs < 800e6 || n.squashfs <= j.squashfs || j.initrd < 70e6 || j.kernel < 13e6 {
		t.Errorf("sizes jammy %+v noble %+v", j, n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, Options{Out: t.TempDir(), Scale: testScale}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestSynthStream(t *testing.T) {
	// Same seed, same bytes; the stream does not depend on the buffer
	// size, so a size is a prefix of a larger size.
	var a, b bytes.Buffer
	s := seed("jammy", "squashfs", "20250101")
	if err := (synth{seed: s, size: 3<<20 + 5}).writeTo(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
	if err := (synth{seed: s, size: 1 << 20}).writeTo(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if a.Len() != 3<<20+5 || !bytes.Equal(a.Bytes()[:1<<20], b.Bytes()) {
		t.Fatal("synthetic stream not reproducible")
	}
	if seed("jammy", "squashfs", "20250101") == seed("jammy", "squashfs", "20250102") ||
		seed("jammy", "squashfs") == seed("jammysquashfs") {
		t.Fatal("seeds collide")
	}
}

func BenchmarkSynth(b *testing.B) {
	s := synth{seed: seed("bench"), size: 256 << 20}
	b.SetBytes(s.size)
	for b.Loop() {
		h := sha256.New()
		if err := s.writeTo(context.Background(), h); err != nil {
			b.Fatal(err)
		}
	}
}
