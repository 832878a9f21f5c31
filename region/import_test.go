package region_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/simplestreams"
)

func byPath(tree wire.Tree) map[string]wire.Entry {
	m := map[string]wire.Entry{}
	for _, e := range tree.Files {
		m[e.Path] = e
	}
	return m
}

func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestImportFromSignedMirror(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	ctx := context.Background()
	if err := r.ImportNow(ctx); err != nil {
		t.Fatalf("import: %v", err)
	}
	files := byPath(r.Tree(t))
	kernel := "ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"
	for _, p := range []string{kernel, "ubuntu/amd64/ga-24.04/noble/stable/squashfs",
		"ubuntu/amd64/ga-22.04/jammy/stable/boot-initrd", "bootx64.efi", "grubx64.efi", "lpxelinux.0", "ldlinux.c32",
		"bootloaders/uefi/amd64/bootx64.efi", "bootloaders/pxe/i386/lpxelinux.0"} {
		if _, ok := files[p]; !ok {
			t.Errorf("tree lacks %s", p)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// The kernel served by sha256, by short name and the MAAS path all
	// equal the mirror's file.
	k := files[kernel]
	want, err := os.ReadFile(filepath.Join(m.Root, "jammy/amd64/20250101/ga-22.04/generic/boot-kernel"))
	if err != nil {
		t.Fatal(err)
	}
	if digest.Of(want) != k.SHA256 || int64(len(want)) != k.Size {
		t.Fatalf("tree's kernel %s/%d is not the mirror's", k.SHA256, k.Size)
	}
	short := ""
	for p, e := range files {
		if strings.HasPrefix(p, "images/") && e.SHA256 == k.SHA256 {
			short = strings.TrimPrefix(p, "images/")
		}
	}
	if len(short) != 7 {
		t.Fatalf("no 7-character images/ entry for the kernel")
	}
	for _, path := range []string{wire.PathBlobs + k.SHA256.String(), wire.PathMAAS + short + "/ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"} {
		resp := r.Get(t, path, nil)
		if got := body(t, resp); resp.StatusCode != 200 || digest.Of(got) != k.SHA256 {
			t.Errorf("GET %s: %s, %d bytes, sha %s", path, resp.Status, len(got), digest.Of(got))
		}
	}
	// Block digests match the bytes.
	var bd wire.BlockDigests
	if err := json.Unmarshal(body(t, r.Get(t, wire.PathBlobs+k.SHA256.String()+"/blocks", nil)), &bd); err != nil {
		t.Fatal(err)
	}
	if bd.BlockSize != digest.BlockSize || int64(len(bd.Blocks)) != digest.BlockCount(k.Size, bd.BlockSize) {
		t.Fatalf("block digests: %d blocks of %d", len(bd.Blocks), bd.BlockSize)
	}
	for i, b := range bd.Blocks {
		lo := int64(i) * bd.BlockSize
		if digest.Of(want[lo:min(lo+bd.BlockSize, int64(len(want)))]) != b {
			t.Fatalf("block %d digest wrong", i)
		}
	}
	// Every stored file hashes to its name.
	assertStoreVerified(t, r.Storage)
	// A second import downloads nothing.
	before := m.Served("")
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Served("") - before; got > 64<<10 { // metadata only
		t.Fatalf("second import downloaded %d bytes", got)
	}
}

// assertStoreVerified hashes every blob-named file in dir.
func assertStoreVerified(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if _, err := digest.Parse(e.Name()); err != nil || !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // cleaned up (an old set's file) since the listing
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := digest.Of(b); got.String() != e.Name() {
			t.Errorf("stored file %s hashes to %s", e.Name(), got)
		}
		n++
	}
	if n == 0 {
		t.Error("store holds no files")
	}
	return n
}

func storeBlobs(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, err := digest.Parse(e.Name()); err == nil {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestTamperedMetadataRefused(t *testing.T) {
	for _, file := range []string{"index.sjson", "com.ubuntu.maas:stable:v3:download.sjson"} {
		t.Run(file, func(t *testing.T) {
			m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
			p := filepath.Join(m.Root, "streams/v1", file)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Change the signed payload, not the signature.
			b = []byte(strings.Replace(string(b), `"format"`, `"formaT"`, 1))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			r := regiontest.StartRegion(t, regiontest.Options{})
			r.AddSource(t, m)
			err = r.ImportNow(context.Background())
			if !errors.Is(err, simplestreams.ErrBadSignature) {
				t.Fatalf("import of tampered %s: %v, want ErrBadSignature", file, err)
			}
			if !strings.Contains(err.Error(), file) {
				t.Errorf("error does not name %s: %v", file, err)
			}
			if blobs := storeBlobs(t, r.Storage); len(blobs) != 0 {
				t.Fatalf("store holds %d files after a refused import", len(blobs))
			}
			if files := r.Tree(t).Files; len(files) != 0 {
				t.Fatalf("tree has %d files", len(files))
			}
		})
	}
}

func TestCorruptItemRefusedAndNamed(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	kernel := filepath.Join(m.Root, "jammy/amd64/20250101/ga-22.04/generic/boot-kernel")
	damage.FlipByte(t, kernel, 100)
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	err := r.ImportNow(context.Background())
	if err == nil {
		t.Fatal("import of a corrupt item succeeded")
	}
	if !strings.Contains(err.Error(), "boot-kernel") || !strings.Contains(err.Error(), "jammy") {
		t.Errorf("error does not name the item: %v", err)
	}
	bad := fileSHA(t, kernel)
	for _, name := range storeBlobs(t, r.Storage) {
		if name == bad {
			t.Fatal("the corrupt bytes got a final name")
		}
	}
	assertStoreVerified(t, r.Storage)
	// The jammy set is incomplete, so not offered; noble is.
	files := byPath(r.Tree(t))
	if _, ok := files["ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"]; ok {
		t.Error("incomplete jammy set offered")
	}
	if _, ok := files["ubuntu/amd64/ga-24.04/noble/stable/boot-kernel"]; !ok {
		t.Error("complete noble set not offered")
	}
	// A peer-sync round may start at once and try the missing file again
	// (it is wanted still); its refused download removes its partial too.
	// What must not happen is a partial that stays.
	regiontest.Eventually(t, 30*time.Second, "no partial file left after refused downloads", func() bool {
		ents, _ := os.ReadDir(filepath.Join(r.Storage, ".partial"))
		return len(ents) == 0
	})
}
