package simplestreams

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ulikunitz/xz"
)

// xzMagic starts every xz stream.
var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

// ExtractArchive reads an archive.tar.xz (a bootloader item) and calls fn
// for each regular file in it, in archive order, with the member's cleaned
// name (slash-separated, relative, e.g. "grubx64.efi" or "x86_64-efi/a.mod"),
// its size and a reader of its bytes, valid only during the call. fn need not
// read all of it. An error from fn stops the extraction and is returned as
// is.
//
// Directories (and pax global headers) are skipped. Every other member type
// — symlinks and hard links included — is refused with ErrFormat naming the
// member: following links inside a streamed archive would mean buffering
// it, and the bootloader archives of images.maas.io hold regular files only.
// A member whose name is absolute, holds a backslash or, once cleaned,
// leaves the archive's directory ("../x", "a/../../x") is refused with
// ErrUnsafePath naming the member, as is a name given twice. Input that is
// not an xz stream, or an xz stream that does not hold a tar, is refused
// with ErrUnknownFormat; later corruption, including a damaged xz index or
// checksum after the last member, is ErrFormat.
//
// The archive is trusted through its sha256 from signed metadata; nothing
// here limits the xz dictionary size an archive asks for.
func ExtractArchive(r io.Reader, fn func(name string, size int64, r io.Reader) error) error {
	br := bufio.NewReader(r)
	magic, err := br.Peek(len(xzMagic))
	if err != nil || !bytes.Equal(magic, xzMagic) {
		return fmt.Errorf("%w: not an xz stream", ErrUnknownFormat)
	}
	xr, err := xz.NewReader(br)
	if err != nil {
		return fmt.Errorf("%w: xz header: %w", ErrUnknownFormat, err)
	}
	tr := tar.NewReader(xr)
	seen := make(map[string]bool)
	for first := true; ; first = false {
		hdr, err := tr.Next()
		if err == io.EOF {
			// Read the xz stream to its end so that its index and
			// checksums are checked too: tar stops at its end marker.
			if _, err := io.Copy(io.Discard, xr); err != nil {
				return fmt.Errorf("%w: xz stream after the tar end: %w", ErrFormat, err)
			}
			return nil
		}
		if err != nil {
			if first && errors.Is(err, tar.ErrHeader) {
				return fmt.Errorf("%w: xz content is not a tar archive: %w", ErrUnknownFormat, err)
			}
			return fmt.Errorf("%w: archive: %w", ErrFormat, err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeXGlobalHeader:
			continue
		case tar.TypeReg, tar.TypeRegA: // TypeRegA: pre-POSIX archives
		default:
			return fmt.Errorf("%w: member %q: type %q is not a regular file or directory", ErrFormat, hdr.Name, hdr.Typeflag)
		}
		name, err := memberName(hdr.Name)
		if err != nil {
			return err
		}
		if seen[name] {
			return fmt.Errorf("%w: member %q: %q appears twice", ErrUnsafePath, hdr.Name, name)
		}
		seen[name] = true
		if err := fn(name, hdr.Size, tr); err != nil {
			return err
		}
	}
}

// memberName cleans an archive member name and refuses names leaving the
// archive's directory.
func memberName(raw string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: archive member %q: %s", ErrUnsafePath, raw, why)
	}
	if strings.Contains(raw, "\\") {
		return "", bad("backslash in name")
	}
	if strings.HasPrefix(raw, "/") {
		return "", bad("absolute name")
	}
	name := path.Clean(raw)
	switch {
	case name == "." || name == "":
		return "", bad("empty name")
	case name == ".." || strings.HasPrefix(name, "../"):
		return "", bad("escapes the archive directory")
	}
	return name, nil
}
