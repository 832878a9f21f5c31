package digest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"
)

func TestParseRoundTrip(t *testing.T) {
	d := Of([]byte("hello"))
	p, err := Parse(d.String())
	if err != nil || p != d {
		t.Fatalf("Parse(%s) = %v, %v", d, p, err)
	}
	if got := d.Short(7); got != d.String()[:7] {
		t.Fatalf("Short = %q", got)
	}
	for _, bad := range []string{"", "abc", d.String()[:63] + "g", d.String() + "00"} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) error = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestJSON(t *testing.T) {
	d := Of([]byte("x"))
	b, err := json.Marshal(map[string]Digest{"sha256": d})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]Digest
	if err := json.Unmarshal(b, &back); err != nil || back["sha256"] != d {
		t.Fatalf("round trip %s: %v %v", b, back, err)
	}
	if err := json.Unmarshal([]byte(`{"sha256":"zz"}`), &back); err == nil {
		t.Fatal("bad digest accepted")
	}
}

func TestHasherBlocks(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 25) // 250 bytes
	for _, bs := range []int64{1, 7, 100, 250, 1000} {
		h := NewHasher(bs)
		// Write in odd pieces to cross block boundaries.
		for i := 0; i < len(data); i += 13 {
			end := min(i+13, len(data))
			h.Write(data[i:end])
		}
		whole, blocks := h.Sum()
		if whole != Of(data) {
			t.Fatalf("bs=%d whole digest wrong", bs)
		}
		if int64(len(blocks)) != BlockCount(int64(len(data)), bs) {
			t.Fatalf("bs=%d: %d blocks, want %d", bs, len(blocks), BlockCount(int64(len(data)), bs))
		}
		for i, b := range blocks {
			lo := int64(i) * bs
			hi := min(lo+bs, int64(len(data)))
			if b != BlockSum(h.Algorithm(), data[lo:hi]) {
				t.Fatalf("bs=%d block %d wrong", bs, i)
			}
		}
		dec, err := DecodeBlocks(EncodeBlocks(blocks))
		if err != nil || len(dec) != len(blocks) || (len(dec) > 0 && dec[0] != blocks[0]) {
			t.Fatalf("encode/decode: %v", err)
		}
	}
	if _, err := DecodeBlocks(make([]byte, 33)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("DecodeBlocks(33 bytes) = %v", err)
	}
}

// TestHasherStepsAndParallel holds the Hasher, with writes below and above
// ParallelMin and for both block algorithms, to a direct SHA-256 of the
// whole content and a direct digest of each block.
func TestHasherStepsAndParallel(t *testing.T) {
	for _, algo := range []string{SHA256, BLAKE3} {
		t.Run(algo, func(t *testing.T) { testHasherSteps(t, algo) })
	}
}

func testHasherSteps(t *testing.T, algo string) {
	const bs = 1 << 20
	data := make([]byte, 3*bs+777)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	for _, step := range []int{1000, ParallelMin - 1, ParallelMin, bs, bs + 1, len(data)} {
		for _, n := range []int{0, 1, bs - 1, bs, len(data)} {
			h := NewHasherOf(algo, bs)
			if h.Algorithm() != algo {
				t.Fatalf("Algorithm() = %q, want %q", h.Algorithm(), algo)
			}
			for off := 0; off < n; off += step {
				h.Write(data[off:min(off+step, n)])
			}
			whole, blocks := h.Sum()
			if whole != Digest(sha256.Sum256(data[:n])) {
				t.Fatalf("step %d, %d bytes: whole digest differs", step, n)
			}
			if want := BlockCount(int64(n), bs); int64(len(blocks)) != want {
				t.Fatalf("step %d, %d bytes: %d block digests, want %d", step, n, len(blocks), want)
			}
			for i, b := range blocks {
				if b != BlockSum(algo, data[i*bs:min((i+1)*bs, n)]) {
					t.Fatalf("step %d, %d bytes: block %d differs", step, n, i)
				}
			}
		}
	}
}

// TestBlockSumVectors checks both block algorithms against published test
// vectors (FIPS 180-2 for SHA-256, the BLAKE3 reference implementation's
// b3sum for BLAKE3), and that NewHasher's blocks are BLAKE3.
func TestBlockSumVectors(t *testing.T) {
	for _, c := range []struct{ algo, in, want string }{
		{SHA256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{BLAKE3, "", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{BLAKE3, "abc", "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"},
	} {
		if got := BlockSum(c.algo, []byte(c.in)); got != MustParse(c.want) {
			t.Errorf("BlockSum(%q, %q) = %s, want %s", c.algo, c.in, got, c.want)
		}
		h := NewHasherOf(c.algo, 4)
		h.Write([]byte(c.in))
		if whole, blocks := h.Sum(); whole != Of([]byte(c.in)) || (c.in != "" && blocks[0] != BlockSum(c.algo, []byte(c.in)[:min(4, len(c.in))])) {
			t.Errorf("Hasher(%q) of %q: whole %s, blocks %v", c.algo, c.in, whole, blocks)
		}
	}
	if a := NewHasher(BlockSize).Algorithm(); a != BLAKE3 {
		t.Errorf("NewHasher computes %q blocks, want %q", a, BLAKE3)
	}
	for in, want := range map[string]string{"": SHA256, SHA256: SHA256, BLAKE3: BLAKE3} {
		if got, err := CheckAlgorithm(in); err != nil || got != want {
			t.Errorf("CheckAlgorithm(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := CheckAlgorithm("md5"); !errors.Is(err, ErrMalformed) {
		t.Errorf("CheckAlgorithm(md5) = %v, want ErrMalformed", err)
	}
}

// BenchmarkHasher measures the one streaming pass of the write path (whole
// SHA-256 beside the block digests) for each block algorithm, in 1 MiB
// writes: go test -run X -bench Hasher ./internal/digest/
func BenchmarkHasher(b *testing.B) {
	buf := make([]byte, BlockSize)
	for _, algo := range []string{SHA256, BLAKE3} {
		b.Run(algo, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			h := NewHasherOf(algo, BlockSize)
			for b.Loop() {
				h.Write(buf)
			}
		})
	}
}

// BenchmarkBlockSum measures one 1 MiB block digest, as verify-on-read and
// a rack's fetch compute it: go test -run X -bench BlockSum ./internal/digest/
func BenchmarkBlockSum(b *testing.B) {
	buf := make([]byte, BlockSize)
	for _, algo := range []string{SHA256, BLAKE3} {
		b.Run(algo, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				BlockSum(algo, buf)
			}
		})
	}
}
