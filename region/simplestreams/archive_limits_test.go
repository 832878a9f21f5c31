package simplestreams

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/bootfs/bootfs/internal/damage"
)

func TestExtractArchiveLimits(t *testing.T) {
	ok := member{name: "ok", typ: tar.TypeReg, body: "x"}
	good := xzBytes(t, tarBytes(t, []member{ok}))
	// 30 encodes 2<<26 = 128 MiB: twice the cap, cheap for an old decoder.
	huge := damage.XZDict(t, good, 30)
	if got, _, err := extractAll(damage.XZDict(t, good, 24)); err != nil || got["ok"] != "x" { // 16 MiB: fine
		t.Fatalf("16 MiB dictionary: %v %v", got, err)
	}

	var many []member
	for i := range MaxArchiveMembers + 1 {
		many = append(many, member{name: fmt.Sprintf("m%05d", i), typ: tar.TypeReg, body: "y"})
	}
	// A member declaring 300 MiB: its header alone, then the tar's end.
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: "big.efi", Typeflag: tar.TypeReg, Mode: 0o644, Size: 300 << 20}); err != nil {
		t.Fatal(err)
	}
	oversized := xzBytes(t, append(hdr.Bytes()[:512], make([]byte, 1024)...))

	cases := []struct {
		name    string
		data    []byte
		mention string
	}{
		{"dictionary over the cap", huge, "dictionary of 134217728 bytes"},
		{"dictionary over the cap in a second stream", append(bytes.Clone(good), huge...), "dictionary"},
		{"too many members", xzBytes(t, tarBytes(t, many)), fmt.Sprintf("more than %d members", MaxArchiveMembers)},
		{"oversized member", oversized, "big.efi"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := extractAll(c.data)
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("%v, want ErrLimit", err)
			}
			mustContain(t, err, c.mention)
		})
	}

	// Without io.ReaderAt the first block's dictionary is still checked.
	err := ExtractArchive(bufio.NewReader(bytes.NewReader(huge)), func(string, int64, io.Reader) error { return nil })
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("plain reader: %v, want ErrLimit", err)
	}
	// A good archive read through a reader that is not at offset 0 of its
	// buffer still extracts once (the index check leaves the offset alone).
	r := bytes.NewReader(append(bytes.Clone(good), good...))
	n := 0
	if err := ExtractArchive(r, func(name string, _ int64, r io.Reader) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("two concatenated streams: %d members, %v", n, err)
	}
}
