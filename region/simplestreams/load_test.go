package simplestreams

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

func byID(t *testing.T, got []Latest) map[string]Latest {
	t.Helper()
	m := make(map[string]Latest)
	for _, l := range got {
		m[l.Product.ID] = l
	}
	return m
}

func itemNames(l Latest) string {
	var names []string
	for _, it := range l.Items {
		names = append(names, it.Name)
	}
	return strings.Join(names, ",")
}

// checkGood checks what Load returns for goodMirror.
func checkGood(t *testing.T, got []Latest) {
	t.Helper()
	if len(got) != 4 {
		t.Fatalf("got %d products, want 4: %+v", len(got), got)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].Product.ID >= got[i].Product.ID {
			t.Errorf("result not sorted by product id")
		}
	}
	m := byID(t, got)

	j := m[jammyID]
	wantP := Product{ID: jammyID, ContentID: imagesID, OS: "ubuntu", Arch: "amd64", Release: "jammy",
		OSVersion: "22.04", ReleaseTitle: "22.04 LTS", Subarch: "ga-22.04", Kflavor: "generic",
		Label: "stable", Subarches: "generic,hwe-p,ga-22.04"}
	if j.Product != wantP {
		t.Errorf("jammy product = %+v\nwant %+v", j.Product, wantP)
	}
	if j.Version != "20250718.10" {
		t.Errorf("jammy version = %q, want 20250718.10", j.Version)
	}
	if got := itemNames(j); got != "boot-initrd,boot-kernel,squashfs" {
		t.Errorf("jammy items = %s (manifest must be skipped)", got)
	}
	k := j.Items[1]
	wantK := Item{Name: "boot-kernel", Ftype: "boot-kernel", Path: "jammy/amd64/20250718.10/ga-22.04/generic/boot-kernel",
		SHA256: digest.Of([]byte("jk20250718.10")), Size: int64(len("jk20250718.10"))}
	if k != wantK {
		t.Errorf("jammy kernel = %+v\nwant %+v", k, wantK)
	}
	if r, a := j.Product.ResourceName(), j.Product.ResourceArch(); r != "ubuntu/jammy" || a != "amd64/ga-22.04" {
		t.Errorf("jammy resource = %s %s", r, a)
	}

	n := m[nobleID]
	if n.Product.Label != "candidate" || n.Version != "20250801" || itemNames(n) != "boot-kernel,root-image.gz" {
		t.Errorf("noble = %+v", n)
	}
	if n.Items[1].Size != 2 {
		t.Errorf("size given as a string: %d, want 2", n.Items[1].Size)
	}

	g := m[grubID]
	if g.Product.BootloaderType != "uefi" || g.Product.OS != "grub-efi-signed" || g.Product.ContentID != blID ||
		!g.Product.IsBootloader() || itemNames(g) != "grub2-signed,shim-signed" || g.Items[0].Ftype != "archive.tar.xz" {
		t.Errorf("grub = %+v", g)
	}
	if r, a := g.Product.ResourceName(), g.Product.ResourceArch(); r != "grub-efi-signed/uefi" || a != "amd64/generic" {
		t.Errorf("grub resource = %s %s", r, a)
	}
	if p := m[pxeID]; p.Product.Arch != "i386" || p.Product.BootloaderType != "pxe" || itemNames(p) != "syslinux" {
		t.Errorf("pxe = %+v", p)
	}
}

func TestLoadSigned(t *testing.T) {
	key := newTestKey(t, "mirror")
	m := goodMirror(t, key)
	for name, ring := range map[string][]byte{"binary": key.public, "armored": key.armored} {
		t.Run(name, func(t *testing.T) {
			got, err := Load(context.Background(), nil, Source{URL: m.root(), Keyring: ring})
			if err != nil {
				t.Fatal(err)
			}
			checkGood(t, got)
		})
	}
	// Without the trailing slash the root is the same.
	got, err := Load(context.Background(), nil, Source{URL: strings.TrimSuffix(m.root(), "/"), Keyring: key.public})
	if err != nil {
		t.Fatal(err)
	}
	checkGood(t, got)
	// The bootloader file named .json in the index was read in its .sjson
	// form; no .json document was read at all.
	m.mu.Lock()
	defer m.mu.Unlock()
	for p, n := range m.hits {
		if strings.HasSuffix(p, ".json") {
			t.Errorf("signed load fetched %s (%d times)", p, n)
		}
	}
	if m.hits["/mirror/streams/v1/"+blID+".sjson"] == 0 {
		t.Errorf("bootloader .sjson not fetched: %v", m.hits)
	}
}

func TestLoadUnsigned(t *testing.T) {
	key := newTestKey(t, "mirror")
	// A mirror with only the .json documents.
	m := newTestMirror(t)
	m.putDoc(t, nil, "streams/v1/index", indexDoc())
	m.putDoc(t, nil, "streams/v1/"+imagesID, imagesDoc())
	m.putDoc(t, nil, "streams/v1/"+blID, bootloadersDoc())

	got, err := Load(context.Background(), nil, Source{URL: m.root(), Unsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	checkGood(t, got)

	// Not unless asked: a keyring but no signed index fails with a 404.
	_, err = Load(context.Background(), nil, Source{URL: m.root(), Keyring: key.public})
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound || !strings.HasSuffix(he.URL, "/mirror/streams/v1/index.sjson") {
		t.Fatalf("signed load of unsigned mirror: %v", err)
	}
	// Unsigned JSON served under the .sjson names is refused.
	m.put("streams/v1/index.sjson", m.get("streams/v1/index.json"))
	_, err = Load(context.Background(), nil, Source{URL: m.root(), Keyring: key.public})
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("unsigned .sjson: %v, want ErrBadSignature", err)
	}
	mustContain(t, err, m.root()+"streams/v1/index.sjson")
	// A signed source needs a keyring.
	if _, err := Load(context.Background(), nil, Source{URL: m.root()}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("no keyring: %v, want ErrBadSignature", err)
	}
}

func TestLoadTampered(t *testing.T) {
	key := newTestKey(t, "mirror")
	cases := []struct {
		name, doc, marker string
	}{
		{"index", "streams/v1/index.sjson", `"updated": "Fri, `},
		{"products", "streams/v1/" + imagesID + ".sjson", `"size": `},
		{"bootloaders", "streams/v1/" + blID + ".sjson", `"size": `},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := goodMirror(t, key)
			m.put(c.doc, flipPayloadByte(t, m.get(c.doc), c.marker))
			_, err := Load(context.Background(), nil, Source{URL: m.root(), Keyring: key.public})
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("tampered %s: %v, want ErrBadSignature", c.doc, err)
			}
			mustContain(t, err, m.root()+c.doc)
		})
	}
	t.Run("signature stripped", func(t *testing.T) {
		m := goodMirror(t, key)
		doc := m.get("streams/v1/index.sjson")
		i := strings.Index(string(doc), "-----BEGIN PGP SIGNATURE-----")
		m.put("streams/v1/index.sjson", doc[:i])
		if _, err := Load(context.Background(), nil, Source{URL: m.root(), Keyring: key.public}); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("no signature: %v", err)
		}
	})
}

func TestLoadWrongKey(t *testing.T) {
	signer, other := newTestKey(t, "mirror"), newTestKey(t, "other")
	m := goodMirror(t, signer)
	_, err := Load(context.Background(), nil, Source{URL: m.root(), Keyring: other.public})
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong key: %v, want ErrBadSignature", err)
	}
	mustContain(t, err, m.root()+"streams/v1/index.sjson")
	// A products file signed by another key is refused even when the index
	// is good.
	m.put("streams/v1/"+blID+".sjson", other.sign(t, m.get("streams/v1/"+blID+".json")))
	_, err = Load(context.Background(), nil, Source{URL: m.root(), Keyring: signer.public})
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("products file by another key: %v", err)
	}
	mustContain(t, err, blID+".sjson")
	// Both keys in the keyring: accepted.
	ring := append(append([]byte(nil), signer.public...), other.public...)
	if _, err := Load(context.Background(), nil, Source{URL: m.root(), Keyring: ring}); err != nil {
		t.Fatalf("two-key keyring: %v", err)
	}
}
