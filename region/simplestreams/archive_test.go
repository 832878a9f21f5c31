package simplestreams

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// member is one tar entry to write.
type member struct {
	name     string
	typ      byte
	body     string
	linkname string
}

func tarBytes(t *testing.T, members []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		hdr := &tar.Header{Name: m.name, Typeflag: m.typ, Mode: 0o644, Linkname: m.linkname}
		if m.typ == tar.TypeReg {
			hdr.Size = int64(len(m.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if m.body != "" {
			if _, err := io.WriteString(tw, m.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func xzBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// extractAll returns name -> content of every member ExtractArchive yields,
// and the names in order.
func extractAll(data []byte) (map[string]string, []string, error) {
	got := map[string]string{}
	var order []string
	err := ExtractArchive(bytes.NewReader(data), func(name string, size int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if int64(len(b)) != size {
			return errors.New("size mismatch")
		}
		got[name] = string(b)
		order = append(order, name)
		return nil
	})
	return got, order, err
}

func TestExtractArchive(t *testing.T) {
	big := strings.Repeat("grub", 100000)
	data := xzBytes(t, tarBytes(t, []member{
		{name: "./", typ: tar.TypeDir},
		{name: "./bootx64.efi", typ: tar.TypeReg, body: "shim"},
		{name: "grubx64.efi", typ: tar.TypeReg, body: big},
		{name: "x86_64-efi/", typ: tar.TypeDir},
		{name: "x86_64-efi//sub/../a.mod", typ: tar.TypeReg, body: "mod"},
		{name: "empty", typ: tar.TypeReg},
	}))
	got, order, err := extractAll(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"bootx64.efi": "shim", "grubx64.efi": big, "x86_64-efi/a.mod": "mod", "empty": ""}
	if len(got) != len(want) {
		t.Fatalf("members %v, want %v", order, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("member %s: %d bytes, want %d", k, len(got[k]), len(v))
		}
	}
	if strings.Join(order, ",") != "bootx64.efi,grubx64.efi,x86_64-efi/a.mod,empty" {
		t.Errorf("order %v", order)
	}

	// fn need not read everything.
	var names []string
	err = ExtractArchive(bytes.NewReader(data), func(name string, size int64, r io.Reader) error {
		names = append(names, name)
		return nil
	})
	if err != nil || len(names) != 4 {
		t.Fatalf("skipping reads: %v %v", names, err)
	}
	// fn's error stops extraction and comes back as is.
	stop := errors.New("stop")
	calls := 0
	err = ExtractArchive(bytes.NewReader(data), func(string, int64, io.Reader) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("fn error: %v after %d calls", err, calls)
	}
}

func TestExtractArchiveRefuses(t *testing.T) {
	ok := member{name: "ok", typ: tar.TypeReg, body: "x"}
	cases := []struct {
		name    string
		data    []byte
		want    error
		mention string
	}{
		{"parent escape", xzBytes(t, tarBytes(t, []member{ok, {name: "../evil", typ: tar.TypeReg, body: "e"}})), ErrUnsafePath, "../evil"},
		{"nested escape", xzBytes(t, tarBytes(t, []member{{name: "a/../../evil", typ: tar.TypeReg, body: "e"}})), ErrUnsafePath, "a/../../evil"},
		{"absolute", xzBytes(t, tarBytes(t, []member{{name: "/etc/passwd", typ: tar.TypeReg, body: "e"}})), ErrUnsafePath, "/etc/passwd"},
		{"backslash", xzBytes(t, tarBytes(t, []member{{name: `..\evil`, typ: tar.TypeReg, body: "e"}})), ErrUnsafePath, `..\\evil`},
		{"dot name", xzBytes(t, tarBytes(t, []member{{name: ".", typ: tar.TypeReg}})), ErrUnsafePath, `"."`},
		{"twice", xzBytes(t, tarBytes(t, []member{ok, {name: "./ok", typ: tar.TypeReg, body: "y"}})), ErrUnsafePath, "./ok"},
		{"symlink", xzBytes(t, tarBytes(t, []member{{name: "bootx64.efi", typ: tar.TypeSymlink, linkname: "/etc/shadow"}})), ErrFormat, "bootx64.efi"},
		{"hard link", xzBytes(t, tarBytes(t, []member{ok, {name: "l", typ: tar.TypeLink, linkname: "ok"}})), ErrFormat, `"l"`},
		{"device", xzBytes(t, tarBytes(t, []member{{name: "dev", typ: tar.TypeChar}})), ErrFormat, "dev"},
		{"not xz", tarBytes(t, []member{ok}), ErrUnknownFormat, "xz"},
		{"gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, ErrUnknownFormat, "xz"},
		{"empty input", nil, ErrUnknownFormat, "xz"},
		{"xz of non-tar", xzBytes(t, bytes.Repeat([]byte("not a tar archive "), 100)), ErrUnknownFormat, "tar"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := extractAll(c.data)
			if !errors.Is(err, c.want) {
				t.Fatalf("%v, want %v", err, c.want)
			}
			mustContain(t, err, c.mention)
		})
	}
	t.Run("truncated", func(t *testing.T) {
		data := xzBytes(t, tarBytes(t, []member{ok, {name: "big", typ: tar.TypeReg, body: strings.Repeat("z", 1<<16)}}))
		_, _, err := extractAll(data[:len(data)-20])
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("truncated archive: %v", err)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		data := xzBytes(t, tarBytes(t, []member{ok, {name: "big", typ: tar.TypeReg, body: strings.Repeat("z", 1<<16)}}))
		data[len(data)/2] ^= 0xff
		if _, _, err := extractAll(data); err == nil {
			t.Fatal("corrupt archive accepted")
		}
	})
}
