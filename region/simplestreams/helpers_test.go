package simplestreams

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/bootfs/bootfs/internal/digest"
)

// testKey is a signing key generated for one test.
type testKey struct {
	entity  *openpgp.Entity
	public  []byte // binary public keyring
	armored []byte // armored public keyring
}

func newTestKey(t *testing.T, name string) *testKey {
	t.Helper()
	e, err := openpgp.NewEntity(name, "test", name+"@bootfs.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var pub, arm bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	w, err := armor.Encode(&arm, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &testKey{entity: e, public: pub.Bytes(), armored: arm.Bytes()}
}

func (k *testKey) sign(t *testing.T, payload []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, k.entity.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testMirror serves files from a map; anything else is 404.
type testMirror struct {
	mu    sync.Mutex // guards files and hits
	files map[string][]byte
	hits  map[string]int
	srv   *httptest.Server
}

func newTestMirror(t *testing.T) *testMirror {
	m := &testMirror{files: map[string][]byte{}, hits: map[string]int{}}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		b, ok := m.files[r.URL.Path]
		m.hits[r.URL.Path]++
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

// root is the mirror root URL, under a sub-directory to check that paths
// are resolved against it.
func (m *testMirror) root() string { return m.srv.URL + "/mirror/" }

func (m *testMirror) put(rel string, b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files["/mirror/"+rel] = b
}

func (m *testMirror) get(rel string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.files["/mirror/"+rel]
}

func (m *testMirror) del(rel string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.files, "/mirror/"+rel)
}

// putDoc stores doc as rel+".json" and, if key is not nil, clearsigned as
// rel+".sjson".
func (m *testMirror) putDoc(t *testing.T, key *testKey, rel string, doc any) {
	t.Helper()
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	m.put(rel+".json", b)
	if key != nil {
		m.put(rel+".sjson", key.sign(t, b))
	}
}

// obj is a JSON object literal.
type obj = map[string]any

func item(ftype, path, content string) obj {
	return obj{"ftype": ftype, "path": path, "sha256": digest.Of([]byte(content)).String(), "size": len(content)}
}

const (
	imagesID = "com.ubuntu.maas:stable:v3:download"
	blID     = "com.ubuntu.maas:stable:1:bootloader-download"
	jammyID  = "com.ubuntu.maas.stable:v3:boot:22.04:amd64:ga-22.04"
	nobleID  = "com.ubuntu.maas.stable:v3:boot:24.04:amd64:ga-24.04"
	grubID   = "com.ubuntu.maas.stable:1:grub-efi-signed:uefi:amd64"
	pxeID    = "com.ubuntu.maas.stable:1:pxelinux:pxe:i386"
)

// imagesDoc is a products file like images.maas.io's v3 download stream:
// jammy has several versions (the newest is 20250718.10, an old one is
// broken), noble has a manifest next to its files.
func imagesDoc() obj {
	jv := func(v string) obj {
		return obj{"items": obj{
			"boot-kernel": item("boot-kernel", "jammy/amd64/"+v+"/ga-22.04/generic/boot-kernel", "jk"+v),
			"boot-initrd": item("boot-initrd", "jammy/amd64/"+v+"/ga-22.04/generic/boot-initrd", "ji"+v),
			"squashfs":    item("squashfs", "jammy/amd64/"+v+"/squashfs", "js"+v),
			"manifest":    item("manifest", "jammy/amd64/"+v+"/squashfs.manifest", "jm"+v),
		}}
	}
	broken := jv("20250101")
	broken["items"].(obj)["squashfs"].(obj)["sha256"] = "nope"
	return obj{
		"content_id": imagesID,
		"format":     "products:1.0",
		"datatype":   "image-ids",
		"label":      "stable", // inherited by products that lack it
		"products": obj{
			jammyID: obj{
				"arch": "amd64", "os": "ubuntu", "release": "jammy", "version": "22.04",
				"release_title": "22.04 LTS", "subarch": "ga-22.04", "kflavor": "generic",
				"subarches": "generic,hwe-p,ga-22.04",
				"versions": obj{
					"20250101":    broken,
					"20250718":    jv("20250718"),
					"20250718.10": jv("20250718.10"),
					"20250718.9":  jv("20250718.9"),
				},
			},
			nobleID: obj{
				"arch": "amd64", "os": "ubuntu", "release": "noble", "version": "24.04",
				"subarch": "ga-24.04", "kflavor": "generic", "label": "candidate",
				"versions": obj{"20250801": obj{"items": obj{
					"boot-kernel": item("boot-kernel", "noble/amd64/20250801/ga-24.04/generic/boot-kernel", "nk"),
					"root-image.gz": obj{"ftype": "root-image.gz", "path": "noble/amd64/20250801/root-image.gz",
						"sha256": digest.Of([]byte("nr")).String(), "size": "2"}, // size as a string
					"manifest": item("manifest", "noble/amd64/20250801/squashfs.manifest", "nm"),
				}}},
			},
			// Only unknown ftypes: left out.
			"com.example:manifest-only": obj{
				"arch": "amd64", "os": "ubuntu", "release": "focal",
				"versions": obj{"20250101": obj{"items": obj{
					"manifest": item("manifest", "focal/m", "m"),
				}}},
			},
			// No versions: left out.
			"com.example:empty": obj{"arch": "amd64", "os": "ubuntu", "release": "bionic"},
		},
	}
}

func bootloadersDoc() obj {
	return obj{
		"content_id": blID,
		"format":     "products:1.0",
		"products": obj{
			grubID: obj{
				"arch": "amd64", "os": "grub-efi-signed", "bootloader-type": "uefi", "label": "stable",
				"versions": obj{"20210819.0": obj{"items": obj{
					"shim-signed":  item("archive.tar.xz", "bootloaders/uefi/amd64/20210819.0/shim-signed.tar.xz", "shim"),
					"grub2-signed": item("archive.tar.xz", "bootloaders/uefi/amd64/20210819.0/grub2-signed.tar.xz", "grub"),
				}}},
			},
			pxeID: obj{
				"arch": "i386", "os": "pxelinux", "bootloader-type": "pxe", "label": "stable",
				"versions": obj{"20210819.0": obj{"items": obj{
					"syslinux": item("archive.tar.xz", "bootloaders/pxe/i386/20210819.0/syslinux.tar.xz", "sys"),
				}}},
			},
		},
	}
}

// indexDoc names the two products files: images by its .sjson path,
// bootloaders by a .json path with the older datatype, plus entries Load
// must ignore (their files do not exist).
func indexDoc() obj {
	return obj{
		"format":  "index:1.0",
		"updated": "Fri, 18 Jul 2025 00:00:00 +0000",
		"index": obj{
			imagesID:                     obj{"datatype": "image-ids", "format": "products:1.0", "path": "streams/v1/" + imagesID + ".sjson"},
			blID:                         obj{"datatype": "image-downloads", "format": "products:1.0", "path": "streams/v1/" + blID + ".json"},
			"com.example:other-datatype": obj{"datatype": "content-download", "format": "products:1.0", "path": "streams/v1/missing.sjson"},
			"com.example:other-format":   obj{"datatype": "image-ids", "format": "products:2.0", "path": "streams/v1/missing2.sjson"},
		},
	}
}

// goodMirror serves indexDoc, imagesDoc and bootloadersDoc, signed by key
// (and unsigned).
func goodMirror(t *testing.T, key *testKey) *testMirror {
	m := newTestMirror(t)
	m.putDoc(t, key, "streams/v1/index", indexDoc())
	m.putDoc(t, key, "streams/v1/"+imagesID, imagesDoc())
	m.putDoc(t, key, "streams/v1/"+blID, bootloadersDoc())
	return m
}

// editedMirror is goodMirror with its images document changed by edit.
func editedMirror(t *testing.T, key *testKey, edit func(obj)) *testMirror {
	doc := imagesDoc()
	edit(doc)
	m := goodMirror(t, key)
	m.putDoc(t, key, "streams/v1/"+imagesID, doc)
	return m
}

// flipPayloadByte changes one byte of the signed text of a clearsigned
// document: the first digit after the given marker.
func flipPayloadByte(t *testing.T, signed []byte, marker string) []byte {
	t.Helper()
	i := bytes.Index(signed, []byte(marker))
	if i < 0 {
		t.Fatalf("marker %q not in document", marker)
	}
	out := bytes.Clone(signed)
	for j := i + len(marker); j < len(out); j++ {
		if out[j] >= '0' && out[j] <= '8' {
			out[j]++
			return out
		}
	}
	t.Fatalf("no digit after %q", marker)
	return nil
}

func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %q", err, p)
		}
	}
}
