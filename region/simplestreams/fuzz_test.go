package simplestreams

// Native fuzz targets for everything this package reads from an upstream
// mirror: the index and products JSON, the clearsigned (OpenPGP) wrapper
// and keyrings, item paths, and bootloader archives. Seeds are in
// testdata/fuzz/<Target>; `make test` runs them, scripts/fuzz.sh fuzzes.

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"math/rand"
	"net/url"
	"path"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ulikunitz/xz"
)

func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"format":"index:1.0","index":{"com.ubuntu.maas:stable:v3:download":{"datatype":"image-ids","format":"products:1.0","path":"streams/v1/com.ubuntu.maas:stable:v3:download.json"}}}`))
	f.Add([]byte(`{"format":"index:1.0","index":{"a":{"datatype":"image-downloads","format":"products:1.0","path":"../x.json"}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		entries, err := parseIndex("http://mirror/streams/v1/index.json", body)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("error %v wraps neither ErrFormat nor ErrUnsafePath", err)
			}
			return
		}
		for i, e := range entries {
			if err := CheckPath(e.path); err != nil {
				t.Fatalf("accepted entry %q with an unsafe path: %v", e.contentID, err)
			}
			if i > 0 && entries[i-1].contentID >= e.contentID {
				t.Fatalf("entries not sorted by unique content id: %q then %q", entries[i-1].contentID, e.contentID)
			}
		}
	})
}

func FuzzParseProducts(f *testing.F) {
	f.Add([]byte(`{"format":"products:1.0","content_id":"c","products":{"com.ubuntu.maas.stable:v3:boot:22.04:amd64:ga-22.04":{"os":"ubuntu","arch":"amd64","release":"jammy","subarch":"ga-22.04","kflavor":"generic","label":"stable","versions":{"20240101":{"items":{"boot-kernel":{"ftype":"boot-kernel","path":"jammy/amd64/20240101/ga-22.04/generic/boot-kernel","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0}}}}}}}`))
	f.Add([]byte(`{"format":"products:1.0","os":"grub-efi-signed","products":{"p":{"arch":"amd64","bootloader-type":"uefi","versions":{"1":{"items":{"a":{"ftype":"archive.tar.xz","path":"bootloaders/uefi/amd64/1/archive.tar.xz","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":"12"}}},"0.9":{}}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		latest, err := fuzzParseProducts("http://mirror/p.json", "c", body)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("error %v wraps neither ErrFormat nor ErrUnsafePath", err)
			}
			return
		}
		for i, lt := range latest {
			if i > 0 && latest[i-1].Product.ID >= lt.Product.ID {
				t.Fatalf("products not sorted by unique id: %q then %q", latest[i-1].Product.ID, lt.Product.ID)
			}
			if lt.Product.OS == "" || lt.Product.Arch == "" || (!lt.Product.IsBootloader() && lt.Product.Release == "") {
				t.Fatalf("product %q accepted without os, arch or release: %+v", lt.Product.ID, lt.Product)
			}
			if len(lt.Items) == 0 {
				t.Fatalf("product %q accepted without items", lt.Product.ID)
			}
			for _, it := range lt.Items {
				if err := CheckPath(it.Path); err != nil {
					t.Fatalf("item %q accepted with an unsafe path: %v", it.Name, err)
				}
				if it.Size < 0 || it.SHA256.IsZero() && it.Size != 0 || !KnownFtype(it.Ftype) {
					t.Fatalf("item %q accepted with size %d, sha256 %s, ftype %q", it.Name, it.Size, it.SHA256, it.Ftype)
				}
			}
		}
	})
}

// fuzzParseProducts calls parseProducts and returns the products it kept
// and its error, whatever else it returns (such as the products it refused
// one by one), so the target survives that signature changing.
func fuzzParseProducts(url, contentID string, body []byte) ([]Latest, error) {
	out := reflect.ValueOf(parseProducts).Call([]reflect.Value{reflect.ValueOf(url), reflect.ValueOf(contentID), reflect.ValueOf(body)})
	latest, _ := out[0].Interface().([]Latest)
	err, _ := out[len(out)-1].Interface().(error)
	return latest, err
}

// FuzzCheckPath holds CheckPath to what it promises: a path it accepts,
// joined to a mirror root, is a URL that net/url reads as a plain path under
// that root: same scheme and host, no query or fragment, no dot segment.
func FuzzCheckPath(f *testing.F) {
	for _, p := range []string{"streams/v1/index.json", "a/../b", "%2e%2e/x", "http:x", "a//b", "./a", "a?b", "a#b", "~u/x:y+z,w=v@q", "a\\b", "ä"} {
		f.Add(p)
	}
	const root = "http://mirror.example/maas/stable/"
	f.Fuzz(func(t *testing.T, p string) {
		err := CheckPath(p)
		u, uerr := ItemURL(root, p)
		if (err == nil) != (uerr == nil) {
			t.Fatalf("CheckPath(%q) = %v but ItemURL gives %v", p, err, uerr)
		}
		if err != nil {
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("CheckPath(%q) = %v, not ErrUnsafePath", p, err)
			}
			return
		}
		parsed, perr := url.Parse(u)
		if perr != nil {
			t.Fatalf("ItemURL(%q) = %q, which net/url refuses: %v", p, u, perr)
		}
		if parsed.Scheme != "http" || parsed.Host != "mirror.example" || parsed.RawQuery != "" || parsed.Fragment != "" ||
			parsed.Opaque != "" || parsed.User != nil {
			t.Fatalf("ItemURL(%q) = %q reads as %#v", p, u, parsed)
		}
		if !strings.HasPrefix(parsed.Path, "/maas/stable/") || path.Clean(parsed.Path) != parsed.Path {
			t.Fatalf("ItemURL(%q) = %q has path %q, not a clean path under the root", p, u, parsed.Path)
		}
		// Resolving it the way a browser or a redirect would stays put.
		base, _ := url.Parse(root)
		if got := base.ResolveReference(&url.URL{Path: p}).String(); got != u {
			t.Fatalf("ItemURL(%q) = %q, but resolving against the root gives %q", p, u, got)
		}
	})
}

// fuzzSigner is a fixed signing key (deterministic randomness, fixed time),
// so committed seeds signed by it verify in every run.
var fuzzSigner = sync.OnceValues(func() (*openpgp.Entity, error) {
	cfg := &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA,
		Rand:      rand.New(rand.NewSource(1)),
		Time:      func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	return openpgp.NewEntity("bootfs fuzz", "fuzz", "fuzz@bootfs.invalid", cfg)
})

func fuzzSign(tb testing.TB, payload []byte) []byte {
	tb.Helper()
	e, err := fuzzSigner()
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, e.PrivateKey, &packet.Config{Time: func() time.Time { return time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write(payload); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// fuzzPayloads are the only texts the fuzz key ever signs.
var fuzzPayloads = []string{
	"{\"format\":\"index:1.0\",\"index\":{}}\n",
	"- dash\n-----BEGIN PGP SIGNATURE-----\ntrailing space   \n\nlast",
}

// canonicalText is what a clearsignature covers: lines without trailing
// blanks, LF endings, no final newline.
func canonicalText(b []byte) string {
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

// FuzzVerifyClearsigned checks that nothing but a text the key signed ever
// comes out of VerifyClearsigned: mutations of a signed message either fail
// with ErrBadSignature or yield the signed text.
func FuzzVerifyClearsigned(f *testing.F) {
	for _, p := range fuzzPayloads {
		signed := fuzzSign(f, []byte(p))
		f.Add(signed)
		f.Add(append([]byte("unsigned preamble\n"), signed...))
		f.Add(append(bytes.Clone(signed), "\n{\"smuggled\":true}\n"...))
		f.Add(bytes.Replace(signed, []byte("index"), []byte("indey"), 1))
	}
	e, err := fuzzSigner()
	if err != nil {
		f.Fatal(err)
	}
	keyring := openpgp.EntityList{e}
	want := map[string]bool{}
	for _, p := range fuzzPayloads {
		want[canonicalText([]byte(p))] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := VerifyClearsigned(data, keyring)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("error %v does not wrap ErrBadSignature", err)
			}
			return
		}
		if !want[canonicalText(text)] {
			t.Fatalf("verified a text the key never signed: %q", text)
		}
	})
}

func FuzzReadKeyring(f *testing.F) {
	e, err := fuzzSigner()
	if err != nil {
		f.Fatal(err)
	}
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		f.Fatal(err)
	}
	f.Add(pub.Bytes())
	f.Add([]byte(armoredKeyHeader + "\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		el, err := ReadKeyring(b)
		if err == nil && len(el) == 0 {
			t.Fatal("ReadKeyring accepted a keyring without keys")
		}
	})
}

// FuzzExtractArchive feeds ExtractArchive raw bytes, seeded with real
// archive.tar.xz streams: the xz container and the tar inside as an
// upstream mirror could damage them. Every member it hands on must have a
// clean, relative, unique name that stays in the archive's directory, and
// exactly the size its header claims must be readable. (FuzzArchiveMembers explores member names
// and types structurally.)
func FuzzExtractArchive(f *testing.F) {
	for _, ms := range [][][2]string{
		{{"grubx64.efi", "grub"}, {"x86_64-efi/", ""}, {"x86_64-efi/a.mod", "mod"}},
		{{"../evil", "x"}},
		{{"a", "1"}, {"./a", "2"}},
		{{"/abs", "x"}},
		{{"dir\\file", "x"}},
	} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, m := range ms {
			hdr := &tar.Header{Name: m[0], Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m[1]))}
			if strings.HasSuffix(m[0], "/") {
				hdr.Typeflag, hdr.Size = tar.TypeDir, 0
			}
			if err := tw.WriteHeader(hdr); err != nil {
				f.Fatal(err)
			}
			io.WriteString(tw, m[1])
		}
		tw.Close()
		f.Add(fuzzXZ(f, buf.Bytes()))
	}
	f.Add(fuzzXZ(f, []byte("not a tar")))
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(in []byte) {
			seen := map[string]bool{}
			err := ExtractArchive(bytes.NewReader(in), func(name string, size int64, r io.Reader) error {
				if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") ||
					path.Clean(name) != name || name == "." || name == ".." || strings.HasPrefix(name, "../") {
					t.Fatalf("member name %q handed on", name)
				}
				if seen[name] {
					t.Fatalf("member name %q handed on twice", name)
				}
				seen[name] = true
				if size < 0 {
					t.Fatalf("member %q with size %d", name, size)
				}
				n, err := io.Copy(io.Discard, io.LimitReader(r, 1<<20))
				if err == nil && size <= 1<<20 && n != size {
					t.Fatalf("member %q: read %d bytes, header says %d", name, n, size)
				}
				return nil
			})
			if err != nil && err.Error() == "" {
				t.Fatal("an error without a message")
			}
		}
		check(b)
	})
}

// fuzzXZ compresses b with a small dictionary (fast enough per input).
func fuzzXZ(tb testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := xz.WriterConfig{DictCap: 4096}.NewWriter(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
