package digest

import (
	"crypto/sha256"
	"fmt"
	"hash"
)

// BlockSize is the fixed block size of bootfs block digests: the unit a rack
// fetches, verifies and caches. The region stores one SHA-256 per block of
// every file, computed once when the file is ingested.
const BlockSize = 1 << 20

// BlockCount returns how many blocks of blockSize a file of size bytes has.
func BlockCount(size, blockSize int64) int64 {
	if size <= 0 {
		return 0
	}
	return (size + blockSize - 1) / blockSize
}

// Hasher computes, in one streaming pass, the SHA-256 of the whole content
// and the SHA-256 of each fixed-size block. It is an io.Writer; it never
// fails. The zero value is not usable: call NewHasher.
type Hasher struct {
	blockSize int64
	whole     hash.Hash
	block     hash.Hash
	inBlock   int64 // bytes written into the current block
	n         int64 // bytes written in all
	blocks    []Digest
}

// NewHasher returns a Hasher for blocks of blockSize bytes.
func NewHasher(blockSize int64) *Hasher {
	if blockSize <= 0 {
		panic(fmt.Sprintf("digest: block size %d", blockSize))
	}
	return &Hasher{blockSize: blockSize, whole: sha256.New(), block: sha256.New()}
}

// Write hashes p.
func (h *Hasher) Write(p []byte) (int, error) {
	total := len(p)
	h.whole.Write(p)
	for len(p) > 0 {
		room := h.blockSize - h.inBlock
		chunk := p
		if int64(len(chunk)) > room {
			chunk = p[:room]
		}
		h.block.Write(chunk)
		h.inBlock += int64(len(chunk))
		p = p[len(chunk):]
		if h.inBlock == h.blockSize {
			h.blocks = append(h.blocks, FromHash(h.block))
			h.block.Reset()
			h.inBlock = 0
		}
	}
	h.n += int64(total)
	return total, nil
}

// Written returns the number of bytes hashed so far.
func (h *Hasher) Written() int64 { return h.n }

// Sum returns the digest of everything written and the digests of each block,
// the last one possibly short. It does not change the Hasher's state.
func (h *Hasher) Sum() (Digest, []Digest) {
	blocks := append([]Digest(nil), h.blocks...)
	if h.inBlock > 0 {
		blocks = append(blocks, FromHash(h.block))
	}
	return FromHash(h.whole), blocks
}

// EncodeBlocks packs block digests as consecutive 32-byte values.
func EncodeBlocks(blocks []Digest) []byte {
	out := make([]byte, 0, len(blocks)*Size)
	for _, b := range blocks {
		out = append(out, b[:]...)
	}
	return out
}

// DecodeBlocks unpacks what EncodeBlocks wrote.
func DecodeBlocks(b []byte) ([]Digest, error) {
	if len(b)%Size != 0 {
		return nil, fmt.Errorf("%w: block digest list of %d bytes is not a multiple of %d", ErrMalformed, len(b), Size)
	}
	out := make([]Digest, len(b)/Size)
	for i := range out {
		copy(out[i][:], b[i*Size:])
	}
	return out, nil
}
