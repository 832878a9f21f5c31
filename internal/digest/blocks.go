package digest

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
)

// BlockSize is the fixed block size of bootfs block digests: the unit a rack
// fetches, verifies and caches. The region stores one digest per block of
// every file (BLAKE3 since #15, SHA-256 before), computed once when the
// file is ingested.
const BlockSize = 1 << 20

// BlockCount returns how many blocks of blockSize a file of size bytes has.
func BlockCount(size, blockSize int64) int64 {
	if size <= 0 {
		return 0
	}
	return (size + blockSize - 1) / blockSize
}

// ParallelMin is the write size from which a Hasher runs the whole-content
// SHA-256 on another goroutine beside the block hashes. Below it the
// goroutine costs more than it saves.
const ParallelMin = 64 << 10

// Hasher computes, in one streaming pass, the SHA-256 of the whole content
// and the digest of each fixed-size block (BLAKE3, or SHA-256 for clients
// of earlier releases). It is the one block hasher of bootfs: the region's
// write path, its verifier and the tests' fake region all use it. The two
// hashes are kept apart so that they run on two cores at once for large
// writes, fed from the same buffer: the whole-file SHA-256 on a goroutine
// of its own (about 1.4 GB/s per core), the block digests (and the
// caller's file write, see Alongside) on the calling one. With BLAKE3
// blocks (about 3.4 GB/s) the calling goroutine finishes first, so the
// pass runs at the speed of one SHA-256. It is an io.Writer; it never
// fails. The zero value is not usable: call NewHasher or NewHasherOf.
type Hasher struct {
	algo      string
	blockSize int64
	whole     hash.Hash
	block     hash.Hash
	inBlock   int64 // bytes written into the current block
	blocks    []Digest
}

// NewHasher returns a Hasher for blocks of blockSize bytes, with block
// digests of BlockAlgorithm (what regions compute at ingest).
func NewHasher(blockSize int64) *Hasher { return NewHasherOf(BlockAlgorithm, blockSize) }

// NewHasherOf returns a Hasher for blocks of blockSize bytes, with block
// digests of algorithm algo (SHA256 or BLAKE3; it panics on any other).
func NewHasherOf(algo string, blockSize int64) *Hasher {
	if blockSize <= 0 {
		panic(fmt.Sprintf("digest: block size %d", blockSize))
	}
	algo, err := CheckAlgorithm(algo)
	if err != nil {
		panic(err)
	}
	return &Hasher{algo: algo, blockSize: blockSize, whole: sha256.New(), block: newBlockHash(algo)}
}

// Algorithm is the algorithm of the block digests Sum returns.
func (h *Hasher) Algorithm() string { return h.algo }

// Write hashes p.
func (h *Hasher) Write(p []byte) (int, error) {
	h.Alongside(p, func() int { return len(p) })
	return len(p), nil
}

// Alongside hashes p into the whole-content hash while it runs fn on the
// calling goroutine (in parallel from ParallelMin bytes up), then feeds the
// first n bytes of p, n being fn's result, to the block hashes. The
// region's write path writes p to its file in fn and returns how much was
// written. When n < len(p) the whole hash is ahead of the blocks and Sum no
// longer describes one content: the caller must discard the Hasher.
func (h *Hasher) Alongside(p []byte, fn func() int) {
	var n int
	if len(p) < ParallelMin {
		h.whole.Write(p)
		n = fn()
	} else {
		var wg sync.WaitGroup
		wg.Go(func() { h.whole.Write(p) })
		n = fn()
		wg.Wait()
	}
	h.writeBlocks(p[:n])
}

// writeBlocks feeds p to the block hashes only.
func (h *Hasher) writeBlocks(p []byte) {
	for len(p) > 0 {
		chunk := p[:min(int64(len(p)), h.blockSize-h.inBlock)]
		h.block.Write(chunk)
		h.inBlock += int64(len(chunk))
		p = p[len(chunk):]
		if h.inBlock == h.blockSize {
			h.blocks = append(h.blocks, FromHash(h.block))
			h.block.Reset()
			h.inBlock = 0
		}
	}
}

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
