package simplestreams

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"path"
	"strings"
	"testing"
)

// FuzzArchiveMembers builds well-formed archives from fuzzed member names
// and types (raw tar bytes rarely get past the header checksum) and holds
// ExtractArchive to a model of its documented rules: it succeeds exactly
// when every member is a regular file or directory with a name that is
// relative, has no backslash, stays in the archive's directory once
// cleaned, and is not given twice; and then it hands on every regular file,
// under its cleaned name, with its bytes.
func FuzzArchiveMembers(f *testing.F) {
	f.Add("grubx64.efi|x86_64-efi/|x86_64-efi/a.mod", []byte{0, 1, 0})
	f.Add("a|./a", []byte{0, 0})
	f.Add("../evil|ok", []byte{0, 0})
	f.Add("dir/../../x", []byte{0})
	f.Add("link|target", []byte{2, 0})
	f.Add("hard|a", []byte{3, 0})
	f.Add("/abs", []byte{0})
	f.Add("a\\b", []byte{0})
	f.Add("a/b/..|a", []byte{0, 0})
	f.Fuzz(func(t *testing.T, names string, kinds []byte) {
		parts := strings.Split(names, "|")
		if len(parts) > 32 {
			return
		}
		types := []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, typeRegA, tar.TypeFifo}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		ok := true // what the model expects
		want := map[string]string{}
		for i, name := range parts {
			typ := byte(tar.TypeReg)
			if i < len(kinds) {
				typ = types[int(kinds[i])%len(types)]
			}
			body := strings.Repeat(string(rune('a'+i%26)), i)
			hdr := &tar.Header{Name: name, Typeflag: typ, Mode: 0o644, Format: tar.FormatPAX}
			switch typ {
			case tar.TypeReg, typeRegA:
				hdr.Size = int64(len(body))
				if typ == typeRegA {
					hdr.Typeflag = tar.TypeReg // the writer refuses TypeRegA; the reader maps it alike
				}
			case tar.TypeSymlink, tar.TypeLink:
				hdr.Linkname = "target"
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return // a name the tar writer cannot encode
			}
			if hdr.Size > 0 {
				io.WriteString(tw, body)
			}
			switch hdr.Typeflag {
			case tar.TypeDir:
				continue
			case tar.TypeReg:
			default:
				ok = false
				continue
			}
			clean := path.Clean(name)
			switch {
			case strings.Contains(name, "\\"), strings.HasPrefix(name, "/"), clean == ".", clean == "..", strings.HasPrefix(clean, "../"):
				ok = false
			case contains(want, clean):
				ok = false
			default:
				want[clean] = body + "\x00" // non-empty marker even for empty bodies
			}
		}
		if err := tw.Close(); err != nil {
			return
		}
		got := map[string]string{}
		err := ExtractArchive(bytes.NewReader(fuzzXZ(t, buf.Bytes())), func(name string, size int64, r io.Reader) error {
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			if int64(len(b)) != size {
				t.Fatalf("member %q: %d bytes, header says %d", name, len(b), size)
			}
			got[name] = string(b) + "\x00"
			return nil
		})
		if err != nil {
			if ok {
				t.Fatalf("archive of %q refused, but every member is acceptable: %v", parts, err)
			}
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("archive of %q: error %v wraps neither ErrFormat nor ErrUnsafePath", parts, err)
			}
			return
		}
		if !ok {
			t.Fatalf("archive of %q (types %v) accepted, but a member should have been refused; handed on %q", parts, kinds, keys(got))
		}
		if len(got) != len(want) {
			t.Fatalf("archive of %q: handed on %q, want %q", parts, keys(got), keys(want))
		}
		for name, body := range want {
			if got[name] != body {
				t.Fatalf("archive of %q: member %q handed on as %q, want %q", parts, name, got[name], body)
			}
		}
	})
}

func contains(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
