package units

import (
	"math"
	"testing"
)

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 512: "512 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		14 << 20: "14.0 MiB", 1<<20 - 1: "1.0 MiB", 4 << 30: "4.0 GiB", 3 << 40: "3.0 TiB",
		-2048: "-2.0 KiB", math.MaxInt64: "8192.0 PiB",
	} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Bytes(uint64(1 << 30)); got != "1.0 GiB" {
		t.Errorf("Bytes(uint64 1 GiB) = %q", got)
	}
	if got := Rate(50 << 20); got != "50.0 MiB/s" {
		t.Errorf("Rate = %q", got)
	}
}
