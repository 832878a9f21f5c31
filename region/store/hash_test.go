package store

import (
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

func TestHasherMatchesDigest(t *testing.T) {
	data, _ := blob(80, 3*digest.BlockSize+777)
	for _, step := range []int{1000, parallelMin - 1, parallelMin, digest.BlockSize, digest.BlockSize + 1, len(data)} {
		for _, n := range []int{0, 1, digest.BlockSize - 1, digest.BlockSize, len(data)} {
			ref := digest.NewHasher(digest.BlockSize)
			h := newHasher()
			for off := 0; off < n; off += step {
				ref.Write(data[off:min(off+step, n)])
				h.Write(data[off:min(off+step, n)])
			}
			rw, rb := ref.Sum()
			w, b := h.Sum()
			if w != rw || !equalBlocks(b, rb) {
				t.Fatalf("step %d, %d bytes: hasher differs from digest.Hasher", step, n)
			}
		}
	}
}
