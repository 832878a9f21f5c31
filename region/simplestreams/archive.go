package simplestreams

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strings"

	"github.com/ulikunitz/xz"
)

// Limits on what ExtractArchive reads. A signed archive is still refused
// past them: upstream bootloader archives are a few MiB with a few hundred
// members, and a decoder must not be made to allocate gigabytes.
const (
	// MaxArchiveDict is the largest xz (LZMA2) dictionary an archive may
	// ask for: the decoder allocates it up front. 64 MiB is what xz -9
	// uses.
	MaxArchiveDict = 64 << 20
	// MaxArchiveMembers is the most tar entries an archive may hold.
	MaxArchiveMembers = 4096
	// MaxMemberSize is the largest member an archive may hold.
	MaxMemberSize = 256 << 20
	// MaxArchiveContent is the most member bytes an archive may hold in all.
	MaxArchiveContent = 1 << 30
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
// The archive is trusted through its sha256 from signed metadata, but it is
// still bounded (ErrLimit): an xz dictionary over MaxArchiveDict, more than
// MaxArchiveMembers entries, a member over MaxMemberSize or members over
// MaxArchiveContent in all are refused before anything is decompressed
// past them. When r is also an io.ReaderAt and io.Seeker (a file, a
// bytes.Reader), the dictionary of every xz block
// is checked from the stream's index before decoding (r's offset is left
// as it was); otherwise that of the first block.
// typeRegA is the pre-POSIX regular-file type flag (NUL), which old
// archives still carry; archive/tar deprecates its name, not the value.
const typeRegA = '\x00'

func ExtractArchive(r io.Reader, fn func(name string, size int64, r io.Reader) error) error {
	br := bufio.NewReader(r)
	magic, err := br.Peek(len(xzMagic))
	if err != nil || !bytes.Equal(magic, xzMagic) {
		return fmt.Errorf("%w: not an xz stream", ErrUnknownFormat)
	}
	if err := checkDicts(r, br); err != nil {
		return err
	}
	xr, err := xz.NewReader(br)
	if err != nil {
		return fmt.Errorf("%w: xz header: %w", ErrUnknownFormat, err)
	}
	tr := tar.NewReader(xr)
	seen := make(map[string]bool)
	var entries int
	var content int64
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
		if entries++; entries > MaxArchiveMembers {
			return fmt.Errorf("%w: more than %d members", ErrLimit, MaxArchiveMembers)
		}
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeXGlobalHeader:
			continue
		case tar.TypeReg, typeRegA:
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
		if hdr.Size > MaxMemberSize {
			return fmt.Errorf("%w: member %q: size %d is over the %d-byte limit", ErrLimit, hdr.Name, hdr.Size, MaxMemberSize)
		}
		if content += hdr.Size; content > MaxArchiveContent {
			return fmt.Errorf("%w: members over %d bytes in all (at %q)", ErrLimit, MaxArchiveContent, hdr.Name)
		}
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

// ErrLimit: an archive asks for more than ExtractArchive allows (see
// MaxArchiveDict and the other limits).
var ErrLimit = errors.New("archive over a limit")

// checkDicts refuses an xz archive whose blocks ask for a dictionary over
// MaxArchiveDict: every block's, found through each stream's index, when r
// can be read at offsets; else the first block's, peeked from br.
func checkDicts(r io.Reader, br *bufio.Reader) error {
	ra, okAt := r.(io.ReaderAt)
	sk, okSeek := r.(io.Seeker)
	if okAt && okSeek {
		if cur, err := sk.Seek(0, io.SeekCurrent); err == nil {
			// br has read ahead; the archive starts where it began.
			base := cur - int64(br.Buffered())
			size, err := sk.Seek(0, io.SeekEnd)
			if _, err2 := sk.Seek(cur, io.SeekStart); err2 != nil {
				return fmt.Errorf("archive: seeking back: %w", err2)
			}
			if err == nil && base >= 0 && size >= base {
				return checkAllDicts(io.NewSectionReader(ra, base, size-base), size-base)
			}
		}
	}
	head, err := br.Peek(xzStreamHeader + 1)
	if err != nil {
		return fmt.Errorf("%w: xz stream header: %w", ErrUnknownFormat, err)
	}
	if head[xzStreamHeader] == 0 {
		return nil // no block: the index follows
	}
	n := (int(head[xzStreamHeader]) + 1) * 4
	head, err = br.Peek(xzStreamHeader + n)
	if err != nil {
		return fmt.Errorf("%w: xz block header: %w", ErrFormat, err)
	}
	return checkBlockHeader(head[xzStreamHeader:], xzStreamHeader)
}

const (
	xzStreamHeader = 12      // magic, flags, CRC32
	xzStreamFooter = 12      // CRC32, backward size, flags, "YZ"
	xzMaxIndex     = 1 << 20 // an index this large would list ~100k blocks
	lzma2FilterID  = 0x21
)

// checkAllDicts walks the xz streams of an archive of size bytes from the
// end (footer, index, then each block header) and checks every block's
// dictionary.
func checkAllDicts(ra io.ReaderAt, size int64) error {
	bad := func(off int64, why string) error {
		return fmt.Errorf("%w: xz structure at byte %d: %s", ErrFormat, off, why)
	}
	pos := size
	for pos > 0 {
		// Stream padding: zero bytes, a multiple of four.
		var word [4]byte
		for pos >= 4 {
			if _, err := ra.ReadAt(word[:], pos-4); err != nil {
				return bad(pos-4, err.Error())
			}
			if word != [4]byte{} {
				break
			}
			pos -= 4
		}
		if pos == 0 {
			break
		}
		if pos < xzStreamHeader+xzStreamFooter {
			return bad(0, "too short for an xz stream")
		}
		var foot [xzStreamFooter]byte
		if _, err := ra.ReadAt(foot[:], pos-xzStreamFooter); err != nil {
			return bad(pos-xzStreamFooter, err.Error())
		}
		if foot[10] != 'Y' || foot[11] != 'Z' || crc32.ChecksumIEEE(foot[4:10]) != binary.LittleEndian.Uint32(foot[0:4]) {
			return bad(pos-xzStreamFooter, "no valid stream footer")
		}
		indexSize := (int64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
		if indexSize > xzMaxIndex || indexSize > pos-xzStreamFooter-xzStreamHeader {
			return bad(pos-xzStreamFooter, fmt.Sprintf("index of %d bytes", indexSize))
		}
		indexStart := pos - xzStreamFooter - indexSize
		index := make([]byte, indexSize)
		if _, err := ra.ReadAt(index, indexStart); err != nil {
			return bad(indexStart, err.Error())
		}
		blocks, err := parseIndexRecords(index)
		if err != nil {
			return bad(indexStart, err.Error())
		}
		var total int64
		for _, u := range blocks {
			total += (u + 3) &^ 3
			if total > indexStart {
				return bad(indexStart, "blocks larger than the stream")
			}
		}
		start := indexStart - total - xzStreamHeader
		if start < 0 {
			return bad(indexStart, "blocks larger than the stream")
		}
		var head [xzStreamHeader]byte
		if _, err := ra.ReadAt(head[:], start); err != nil || !bytes.Equal(head[:len(xzMagic)], xzMagic) {
			return bad(start, "no stream header where the index puts it")
		}
		off := start + xzStreamHeader
		for _, u := range blocks {
			var hb [1024]byte
			if _, err := ra.ReadAt(hb[:1], off); err != nil {
				return bad(off, err.Error())
			}
			n := (int(hb[0]) + 1) * 4
			if hb[0] == 0 || int64(n) > u {
				return bad(off, "bad block header size")
			}
			if _, err := ra.ReadAt(hb[:n], off); err != nil {
				return bad(off, err.Error())
			}
			if err := checkBlockHeader(hb[:n], off); err != nil {
				return err
			}
			off += (u + 3) &^ 3
		}
		pos = start
	}
	return nil
}

// parseIndexRecords returns the unpadded size of each block an xz index
// lists, after checking the index's CRC32.
func parseIndexRecords(index []byte) ([]int64, error) {
	if len(index) < 8 || index[0] != 0 {
		return nil, errors.New("no index indicator")
	}
	body, sum := index[:len(index)-4], binary.LittleEndian.Uint32(index[len(index)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("index checksum mismatch")
	}
	rest := body[1:]
	count, rest, err := uvarint(rest)
	if err != nil {
		return nil, err
	}
	if count > uint64(len(rest)/2) {
		return nil, fmt.Errorf("index lists %d blocks in %d bytes", count, len(rest))
	}
	out := make([]int64, 0, count)
	for range count {
		var unpadded uint64
		if unpadded, rest, err = uvarint(rest); err != nil {
			return nil, err
		}
		if _, rest, err = uvarint(rest); err != nil { // uncompressed size
			return nil, err
		}
		if unpadded < 5 || unpadded > 1<<62 {
			return nil, fmt.Errorf("block of unpadded size %d", unpadded)
		}
		out = append(out, int64(unpadded))
	}
	return out, nil
}

// checkBlockHeader checks one xz block header (starting with its size byte
// and ending with its CRC32) found at byte off, and refuses an LZMA2 filter
// whose dictionary is over MaxArchiveDict.
func checkBlockHeader(h []byte, off int64) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: xz block header at byte %d: %s", ErrFormat, off, why)
	}
	if len(h) < 8 || crc32.ChecksumIEEE(h[:len(h)-4]) != binary.LittleEndian.Uint32(h[len(h)-4:]) {
		return bad("checksum mismatch")
	}
	flags := h[1]
	rest := h[2 : len(h)-4]
	var err error
	if flags&0x40 != 0 { // compressed size
		if _, rest, err = uvarint(rest); err != nil {
			return bad(err.Error())
		}
	}
	if flags&0x80 != 0 { // uncompressed size
		if _, rest, err = uvarint(rest); err != nil {
			return bad(err.Error())
		}
	}
	for range int(flags&3) + 1 {
		var id, n uint64
		if id, rest, err = uvarint(rest); err != nil {
			return bad(err.Error())
		}
		if n, rest, err = uvarint(rest); err != nil {
			return bad(err.Error())
		}
		if n > uint64(len(rest)) {
			return bad("filter properties run past the header")
		}
		props := rest[:n]
		rest = rest[n:]
		if id != lzma2FilterID {
			continue
		}
		if len(props) != 1 || props[0] > 40 {
			return bad("bad LZMA2 properties")
		}
		if dict := lzma2Dict(props[0]); dict > MaxArchiveDict {
			return fmt.Errorf("%w: xz dictionary of %d bytes is over the %d-byte limit (block at byte %d)", ErrLimit, dict, MaxArchiveDict, off)
		}
	}
	return nil
}

// lzma2Dict decodes an LZMA2 dictionary size byte (at most 40).
func lzma2Dict(b byte) int64 {
	if b == 40 {
		return 1<<32 - 1
	}
	return int64(2|b&1) << (b/2 + 11)
}

// uvarint reads an xz multibyte integer (at most 9 bytes).
func uvarint(b []byte) (uint64, []byte, error) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if i > 0 && b[i] == 0 {
				return 0, nil, errors.New("non-minimal integer")
			}
			return v, b[i+1:], nil
		}
	}
	return 0, nil, errors.New("truncated integer")
}
