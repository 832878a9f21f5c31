package client

import (
	"encoding/json"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// FuzzBlockDigests holds the rack's check of a block digests answer to
// its contract: any JSON is decoded and checked without a panic; an
// accepted list names a known algorithm canonically ("" from an earlier
// release becomes SHA-256) and has one digest per block of its size.
func FuzzBlockDigests(f *testing.F) {
	d := digest.Of([]byte("file"))
	for _, bd := range []wire.BlockDigests{
		{SHA256: d, Size: 3 << 20, BlockSize: digest.BlockSize, Blocks: make([]digest.Digest, 3), Algorithm: digest.BLAKE3},
		{SHA256: d, Size: 5, BlockSize: digest.BlockSize, Blocks: make([]digest.Digest, 1)},
		{SHA256: d, Size: 0, BlockSize: digest.BlockSize, Algorithm: "md5"},
	} {
		b, _ := json.Marshal(bd)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var bd wire.BlockDigests
		if json.Unmarshal(b, &bd) != nil {
			return
		}
		if checkDigests(&bd, d) != nil {
			return
		}
		if bd.Algorithm != digest.SHA256 && bd.Algorithm != digest.BLAKE3 {
			t.Fatalf("accepted algorithm %q", bd.Algorithm)
		}
		if int64(len(bd.Blocks)) != digest.BlockCount(bd.Size, digest.BlockSize) || bd.SHA256 != d {
			t.Fatalf("accepted %d blocks for %d bytes of %s", len(bd.Blocks), bd.Size, bd.SHA256)
		}
		digest.BlockSum(bd.Algorithm, nil) // a known algorithm: no panic
	})
}
