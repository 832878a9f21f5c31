package region_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pathrule"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
)

const (
	imagesDoc      = "streams/v1/com.ubuntu.maas:stable:v3:download"
	bootloadersDoc = "streams/v1/com.ubuntu.maas:stable:1:bootloader-download"
	jammyProduct   = "com.ubuntu.maas.stable:v3:boot:22.04:amd64:ga-22.04"
	pxeProduct     = "com.ubuntu.maas.stable:1:pxelinux:pxe:i386"
)

type jobj = map[string]any

// editDoc rewrites the unsigned products document rel (without extension)
// of m with edit; resign must be called afterwards.
func editDoc(t *testing.T, m *regiontest.Mirror, rel string, edit func(doc jobj)) {
	t.Helper()
	p := filepath.Join(m.Root, rel+".json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep sizes such as 2^63-1 exact
	var doc jobj
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	if b, err = json.MarshalIndent(doc, "", " "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// resign signs every .json document of m's streams/v1 into its .sjson
// with a new key and writes that key as m's keyring: the mirror is then
// a genuinely signed mirror of the edited metadata.
func resign(t *testing.T, m *regiontest.Mirror) {
	t.Helper()
	e, err := openpgp.NewEntity("refusal test", "", "test@bootfs.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := filepath.Glob(filepath.Join(m.Root, "streams/v1/*.json"))
	for _, p := range docs {
		payload, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		w, err := clearsign.Encode(&buf, e.PrivateKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(payload); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(strings.TrimSuffix(p, ".json")+".sjson", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var key bytes.Buffer
	if err := e.Serialize(&key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.KeyringPath, key.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func importStatus(t *testing.T, r *regiontest.Region) wire.ImportStatus {
	t.Helper()
	resp := r.Get(t, wire.PathImport, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", wire.PathImport, resp.Status)
	}
	var st wire.ImportStatus
	if err := decode(resp, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func checkTreePaths(t *testing.T, tree wire.Tree) {
	t.Helper()
	for _, e := range tree.Files {
		if _, err := pathrule.Path(e.Path); err != nil {
			t.Errorf("tree offers a bad path: %v", err)
		}
	}
}

// TestBadProductsRefusedOneByOne: a signed mirror whose products include a
// release "../../../x", a label "..", an item named "../../x" and a size of
// 2^63-1 imports the good products; the bad ones are named in the import
// status, nothing is downloaded for them, and no tree path has a bad
// component.
func TestBadProductsRefusedOneByOne(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	bad := map[string]string{ // product id -> field refused
		jammyProduct + ":bad-release": "release",
		jammyProduct + ":bad-label":   "label",
		jammyProduct + ":bad-item":    "item name",
		jammyProduct + ":bad-size":    "size",
	}
	editDoc(t, m, imagesDoc, func(doc jobj) {
		products := doc["products"].(jobj)
		clone := func(suffix string) jobj {
			var c jobj
			b, _ := json.Marshal(products[jammyProduct])
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			if err := dec.Decode(&c); err != nil {
				t.Fatal(err)
			}
			products[jammyProduct+suffix] = c
			return c
		}
		items := func(p jobj) jobj {
			for _, v := range p["versions"].(jobj) {
				return v.(jobj)["items"].(jobj)
			}
			panic("no version")
		}
		clone(":bad-release")["release"] = "../../../x"
		clone(":bad-label")["label"] = ".."
		p := clone(":bad-item")
		p["release"], p["subarch"] = "focal", "ga-20.04" // its own resource
		it := items(p)
		it["../../x"] = it["boot-kernel"]
		delete(it, "boot-kernel")
		p = clone(":bad-size")
		p["release"], p["subarch"] = "kinetic", "ga-22.10"
		sq := items(p)["squashfs"].(jobj)
		sq["size"] = json.Number("9223372036854775807") // 2^63-1
		sq["sha256"] = digest.Of([]byte("a file nobody serves")).String()
		sq["path"] = "kinetic/amd64/20250101/squashfs"
	})
	resign(t, m)

	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	if err := r.ImportNow(context.Background()); err != nil {
		t.Fatalf("import with bad products: %v (want them refused, the rest imported)", err)
	}

	st := importStatus(t, r)
	if st.LastImport == nil || st.LastImport.State != "done" {
		t.Errorf("last import %+v, want done", st.LastImport)
	}
	got := map[string]wire.Refusal{}
	for _, ref := range st.Refused {
		got[ref.Product] = ref
	}
	for id, field := range bad {
		ref, ok := got[id]
		if !ok {
			t.Errorf("status does not name refused product %s: %+v", id, st.Refused)
			continue
		}
		if ref.Field != field || ref.Reason == "" || ref.Source != m.URL {
			t.Errorf("refusal of %s: %+v, want field %q, a reason and source %s", id, ref, field, m.URL)
		}
	}
	if len(st.Refused) != len(bad) {
		t.Errorf("%d refusals, want %d: %+v", len(st.Refused), len(bad), st.Refused)
	}

	tree := r.Tree(t)
	checkTreePaths(t, tree)
	files := byPath(tree)
	for _, p := range []string{"ubuntu/amd64/ga-24.04/noble/stable/boot-kernel", "ubuntu/amd64/ga-22.04/jammy/stable/squashfs",
		"bootx64.efi", "lpxelinux.0"} {
		if _, ok := files[p]; !ok {
			t.Errorf("good file %s missing from the tree", p)
		}
	}
	for p := range files {
		if strings.Contains(p, "focal") || strings.Contains(p, "kinetic") {
			t.Errorf("tree offers %s of a refused product", p)
		}
	}
	if n := m.Served("kinetic"); n != 0 {
		t.Errorf("%d bytes served for the product of absurd size: the import must stop before downloading it", n)
	}
}

// TestBadBootloaderArchiveRefused: a signed bootloader archive whose xz
// dictionary is over the cap is refused by name in the status; the other
// archives, of the same product too, are extracted and in the tree.
func TestBadBootloaderArchiveRefused(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	editDoc(t, m, bootloadersDoc, func(doc jobj) {
		for _, v := range doc["products"].(jobj)[pxeProduct].(jobj)["versions"].(jobj) {
			it := v.(jobj)["items"].(jobj)["pxelinux"].(jobj)
			p := filepath.Join(m.Root, it["path"].(string))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b = damage.XZDict(t, b, 30) // 128 MiB: twice the cap
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			it["sha256"], it["size"] = digest.Of(b).String(), len(b)
		}
	})
	resign(t, m)

	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	if err := r.ImportNow(context.Background()); err != nil {
		t.Fatalf("import: %v (want the bad archive refused, the rest imported)", err)
	}
	st := importStatus(t, r)
	var found bool
	for _, ref := range st.Refused {
		if ref.Product == pxeProduct && ref.Item == "pxelinux" && strings.Contains(ref.Reason, "dictionary") {
			found = true
		}
	}
	if !found || len(st.Refused) != 1 {
		t.Errorf("refusals %+v, want the pxelinux archive for its dictionary", st.Refused)
	}
	tree := r.Tree(t)
	checkTreePaths(t, tree)
	files := byPath(tree)
	for _, p := range []string{"bootx64.efi", "grubx64.efi", "ldlinux.c32", "bootloaders/pxe/i386/menu.c32"} {
		if _, ok := files[p]; !ok {
			t.Errorf("%s (from a good archive) missing from the tree", p)
		}
	}
	for _, p := range []string{"lpxelinux.0", "pxelinux.0"} {
		if _, ok := files[p]; ok {
			t.Errorf("%s from the refused archive is in the tree", p)
		}
	}
	// The refusal stays visible after a later sync, and is not retried.
	if err := r.ImportNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := importStatus(t, r); len(st.Refused) != 1 {
		t.Errorf("after a second import: refusals %+v", st.Refused)
	}
}
