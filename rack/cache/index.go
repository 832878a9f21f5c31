package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
)

// The index file, all integers little-endian:
//
//	header  "bootfsCI" | version u32 | chunk size u32 | next gen u64 | count u64
//	entry   file digest [32] | index i64 | gen u64 | size u32 | CRC32C u32 per chunk
//	stamps  count u64, then per stamp: file digest [32] | dev u64 | ino u64 |
//	        size i64 | blocks i64 | ctime seconds i64 | ctime nanoseconds i64
//	trailer CRC32C u32 of everything before it
//
// Entries are in eviction order, the next victim first (an index written
// by plain LRU, least recently used first, reads the same way). Read
// counts are not persisted: after Open, files are ordered by their place
// in the saved order until reads count again. A stamp says that
// every block the index lists in that content file was written or checked
// by the process that wrote the index, and what the file looked like then
// (see stamp). A file that is short,
// long, has a bad trailer or any implausible field is rejected as a whole.

const (
	indexMagic   = "bootfsCI"
	indexVersion = 3 // 1: one file per block; 2: no stamps
	stampSize    = digest.Size + 6*8
	headerSize   = 8 + 4 + 4 + 8 + 8
	entryFixed   = digest.Size + 8 + 8 + 4
)

var errBadIndex = errors.New("malformed cache index")

// stamp identifies the state of a content file: any write, punch or
// truncation changes its ctime (Linux 6.13+ gives a file whose ctime was
// just read a strictly later one at its next change) and a punch or a
// write into a hole its block count.
type stamp struct {
	dev, ino                          uint64
	size, blocks, ctimeSec, ctimeNsec int64
}

func stampOf(st *unix.Stat_t) stamp {
	return stamp{dev: st.Dev, ino: st.Ino, size: st.Size, blocks: st.Blocks, ctimeSec: st.Ctim.Sec, ctimeNsec: st.Ctim.Nsec}
}

// record is an entry as persisted.
type record struct {
	key  Key
	gen  uint64
	size int64
	crcs [maxChunks]uint32
}

func encodeIndex(nextGen uint64, recs []record, stamps map[digest.Digest]stamp) []byte {
	n := headerSize + 8 + len(stamps)*stampSize + 4
	for _, r := range recs {
		n += entryFixed + 4*chunks(r.size)
	}
	b := make([]byte, 0, n)
	b = append(b, indexMagic...)
	b = binary.LittleEndian.AppendUint32(b, indexVersion)
	b = binary.LittleEndian.AppendUint32(b, chunkSize)
	b = binary.LittleEndian.AppendUint64(b, nextGen)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(recs)))
	for _, r := range recs {
		b = append(b, r.key.File[:]...)
		b = binary.LittleEndian.AppendUint64(b, uint64(r.key.Index))
		b = binary.LittleEndian.AppendUint64(b, r.gen)
		b = binary.LittleEndian.AppendUint32(b, uint32(r.size))
		for _, crc := range r.crcs[:chunks(r.size)] {
			b = binary.LittleEndian.AppendUint32(b, crc)
		}
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(stamps)))
	for d, st := range stamps {
		b = append(b, d[:]...)
		for _, v := range []uint64{st.dev, st.ino, uint64(st.size), uint64(st.blocks), uint64(st.ctimeSec), uint64(st.ctimeNsec)} {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeIndex(b []byte) (nextGen uint64, recs []record, stamps map[digest.Digest]stamp, err error) {
	if len(b) < headerSize+4 {
		return 0, nil, nil, fmt.Errorf("%w: %d bytes", errBadIndex, len(b))
	}
	body, trailer := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != trailer {
		return 0, nil, nil, fmt.Errorf("%w: checksum mismatch", errBadIndex)
	}
	if string(body[:8]) != indexMagic {
		return 0, nil, nil, fmt.Errorf("%w: bad magic", errBadIndex)
	}
	if v := binary.LittleEndian.Uint32(body[8:]); v != indexVersion {
		return 0, nil, nil, fmt.Errorf("%w: version %d", errBadIndex, v)
	}
	if cs := binary.LittleEndian.Uint32(body[12:]); cs != chunkSize {
		return 0, nil, nil, fmt.Errorf("%w: chunk size %d", errBadIndex, cs)
	}
	nextGen = binary.LittleEndian.Uint64(body[16:])
	count := binary.LittleEndian.Uint64(body[24:])
	body = body[headerSize:]
	if count > uint64(len(body)/entryFixed) {
		return 0, nil, nil, fmt.Errorf("%w: %d entries in %d bytes", errBadIndex, count, len(body))
	}
	seen := make(map[Key]bool, count)
	recs = make([]record, 0, count)
	for i := uint64(0); i < count; i++ {
		if len(body) < entryFixed {
			return 0, nil, nil, fmt.Errorf("%w: entry %d truncated", errBadIndex, i)
		}
		var r record
		copy(r.key.File[:], body)
		r.key.Index = int64(binary.LittleEndian.Uint64(body[32:]))
		r.gen = binary.LittleEndian.Uint64(body[40:])
		r.size = int64(binary.LittleEndian.Uint32(body[48:]))
		body = body[entryFixed:]
		if r.key.Index < 0 || r.size <= 0 || r.size > digest.BlockSize || r.gen >= nextGen || seen[r.key] {
			return 0, nil, nil, fmt.Errorf("%w: entry %d (%v) implausible", errBadIndex, i, r.key)
		}
		seen[r.key] = true
		n := chunks(r.size)
		if len(body) < 4*n {
			return 0, nil, nil, fmt.Errorf("%w: entry %d truncated", errBadIndex, i)
		}
		for j := range n {
			r.crcs[j] = binary.LittleEndian.Uint32(body[4*j:])
		}
		body = body[4*n:]
		recs = append(recs, r)
	}
	if len(body) < 8 {
		return 0, nil, nil, fmt.Errorf("%w: stamps missing", errBadIndex)
	}
	ns := binary.LittleEndian.Uint64(body)
	body = body[8:]
	if ns != uint64(len(body)/stampSize) || len(body)%stampSize != 0 {
		return 0, nil, nil, fmt.Errorf("%w: %d stamps in %d bytes", errBadIndex, ns, len(body))
	}
	stamps = make(map[digest.Digest]stamp, ns)
	for ; len(body) > 0; body = body[stampSize:] {
		var d digest.Digest
		copy(d[:], body)
		v := func(i int) uint64 { return binary.LittleEndian.Uint64(body[digest.Size+8*i:]) }
		stamps[d] = stamp{dev: v(0), ino: v(1), size: int64(v(2)), blocks: int64(v(3)), ctimeSec: int64(v(4)), ctimeNsec: int64(v(5))}
	}
	return nextGen, recs, stamps, nil
}
