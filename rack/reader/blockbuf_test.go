package reader

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/bootfs/bootfs/internal/digest"
)

func addr(b *[]byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(*b))) }

// TestBlockBufs: the buffers are whole blocks, aligned, never overlapping,
// reused after put, and live in a mapping the kernel may back with huge
// pages.
func TestBlockBufs(t *testing.T) {
	var a bufArena
	seen := map[uintptr]bool{}
	var bufs []*[]byte
	for i := range 8 {
		b := a.get()
		if len(*b) != digest.BlockSize || cap(*b) != digest.BlockSize {
			t.Fatalf("buffer %d: len %d cap %d, want %d", i, len(*b), cap(*b), digest.BlockSize)
		}
		p := addr(b)
		if p%digest.BlockSize != 0 {
			t.Errorf("buffer %d at %#x is not aligned on a block", i, p)
		}
		for q := range seen {
			if p < q+digest.BlockSize && q < p+digest.BlockSize {
				t.Fatalf("buffer %d at %#x overlaps another at %#x", i, p, q)
			}
		}
		seen[p] = true
		for j := range *b {
			(*b)[j] = byte(i)
		}
		bufs = append(bufs, b)
	}
	for i, b := range bufs {
		for j, c := range *b {
			if c != byte(i) {
				t.Fatalf("buffer %d byte %d is %d: another buffer's write reached it", i, j, c)
			}
		}
	}
	// Two buffers share each huge page: the first of a pair starts it.
	if !seen[addr(bufs[0])+digest.BlockSize] || addr(bufs[0])%hugePage != 0 {
		t.Errorf("buffers 0 and 1 (%#x, %#x) do not share one aligned huge page", addr(bufs[0]), addr(bufs[1]))
	}
	if thp, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); strings.Contains(string(thp), "[never]") || len(thp) == 0 {
		t.Logf("transparent huge pages are off here (%q): not checking the mapping's eligibility", thp)
	} else if eligible := thpEligible(t, addr(bufs[0])); eligible != "1" {
		t.Errorf("the buffers' mapping is not eligible for huge pages (THPeligible %q)", eligible)
	}
	a.put(bufs[3])
	if b := a.get(); addr(b) != addr(bufs[3]) {
		t.Errorf("get after put returned %#x, not the buffer put back (%#x)", addr(b), addr(bufs[3]))
	}
}

// thpEligible returns the THPeligible field of the mapping holding p in
// /proc/self/smaps, or "" when the kernel does not report it.
func thpEligible(t *testing.T, p uintptr) string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatalf("reading the mappings: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 { // a mapping's first line
			in = lo <= p && p < hi
			continue
		}
		if v, ok := strings.CutPrefix(line, "THPeligible:"); ok && in {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
