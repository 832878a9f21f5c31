package cache

// Native fuzz target for the cache index file, which the cache reads back
// from disk at start (a file anything may have damaged). Seeds are in
// testdata/fuzz/FuzzDecodeIndex.

import (
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

// withTrailer replaces the last 4 bytes of b (or appends them) with the
// right CRC32C, so the fuzzer gets past the checksum into the fields.
func withTrailer(b []byte) []byte {
	if len(b) >= 4 {
		b = b[:len(b)-4]
	}
	return binary.LittleEndian.AppendUint32(append([]byte(nil), b...), crc32.Checksum(b, castagnoli))
}

func FuzzDecodeIndex(f *testing.F) {
	a, b := digest.Of([]byte("a")), digest.Of([]byte("b"))
	full := record{key: Key{File: a, Index: 0}, gen: 1, size: digest.BlockSize}
	for i := range full.crcs {
		full.crcs[i] = uint32(i + 1)
	}
	short := record{key: Key{File: b, Index: 7}, gen: 2, size: 100}
	short.crcs[0] = 42
	f.Add(encodeIndex(1, nil, nil))
	f.Add(encodeIndex(3, []record{full, short}, map[digest.Digest]stamp{a: {dev: 1, ino: 2, size: 3, blocks: 4, ctimeSec: 5, ctimeNsec: 6}}))
	f.Add(encodeIndex(3, []record{short}, map[digest.Digest]stamp{b: {ino: 9}}))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, b := range [][]byte{in, withTrailer(in)} {
			nextGen, recs, stamps, err := decodeIndex(b)
			if err != nil {
				continue
			}
			seen := map[Key]bool{}
			for _, r := range recs {
				if r.key.Index < 0 || r.size <= 0 || r.size > digest.BlockSize || r.gen >= nextGen || seen[r.key] {
					t.Fatalf("implausible record accepted: %+v (next gen %d)", r, nextGen)
				}
				seen[r.key] = true
				for j := chunks(r.size); j < maxChunks; j++ {
					if r.crcs[j] != 0 {
						t.Fatalf("record %v has a CRC for chunk %d past its size %d", r.key, j, r.size)
					}
				}
			}
			// What was accepted encodes back to an index that decodes the same.
			g2, r2, s2, err := decodeIndex(encodeIndex(nextGen, recs, stamps))
			if err != nil {
				t.Fatalf("re-encoded index refused: %v", err)
			}
			if g2 != nextGen || !reflect.DeepEqual(r2, recs) || !reflect.DeepEqual(s2, stamps) {
				t.Fatalf("index does not survive a round trip")
			}
			if len(stamps) <= 1 && string(encodeIndex(nextGen, recs, stamps)) != string(b) {
				t.Fatalf("accepted an index that does not re-encode to the same bytes")
			}
		}
	})
}
