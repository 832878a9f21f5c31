package simplestreams

import (
	"slices"
	"testing"
)

func TestCompareVersions(t *testing.T) {
	// Each is older than the next.
	ordered := []string{
		"20210819", "20210819.0", "20210819.1", "20210819.9", "20210819.10",
		"20250101", "20250718", "20250718.1", "20250718.2.1", "20250718.10", "20250719",
		"20250719.beta", "20250719.rc",
	}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := CompareVersions(ordered[i], ordered[j]); got != want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	shuffled := slices.Clone(ordered)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, CompareVersions)
	if !slices.Equal(shuffled, ordered) {
		t.Errorf("sorted = %v", shuffled)
	}
	// Numerically equal, textually different: ordered, never equal.
	if c := CompareVersions("20250718.01", "20250718.1"); c == 0 || CompareVersions("20250718.1", "20250718.01") != -c {
		t.Errorf("leading zero versions compare %d", c)
	}
	// Numbers too long for int64 still compare.
	if CompareVersions("99999999999999999999999", "100000000000000000000000") != -1 {
		t.Error("long numbers")
	}
}
