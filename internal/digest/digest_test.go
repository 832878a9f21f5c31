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
			if b != Of(data[lo:hi]) {
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
// ParallelMin, to a direct SHA-256 of the whole content and of each block.
func TestHasherStepsAndParallel(t *testing.T) {
	const bs = 1 << 20
	data := make([]byte, 3*bs+777)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	for _, step := range []int{1000, ParallelMin - 1, ParallelMin, bs, bs + 1, len(data)} {
		for _, n := range []int{0, 1, bs - 1, bs, len(data)} {
			h := NewHasher(bs)
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
				if b != Digest(sha256.Sum256(data[i*bs:min((i+1)*bs, n)])) {
					t.Fatalf("step %d, %d bytes: block %d differs", step, n, i)
				}
			}
		}
	}
}
