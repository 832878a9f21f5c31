package simplestreams

import (
	"strings"
)

// CompareVersions orders simplestreams version names, returning -1, 0 or +1.
// Version names are date-like ("20250718", "20250718.1", "20210819.0"): they
// are split at dots and compared part by part, numerically when both parts
// are all digits (so "20250718.10" > "20250718.9"), as strings otherwise; a
// name that is a prefix of another in parts is older ("20250718" <
// "20250718.1"). Names equal in value but not in text ("1", "01") are
// ordered as strings, so only identical names compare equal.
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if c := comparePart(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(pa) < len(pb):
		return -1
	case len(pa) > len(pb):
		return 1
	}
	// Equal in value ("1" and "01"): order by text so the order is total.
	return strings.Compare(a, b)
}

func comparePart(a, b string) int {
	if isDigits(a) && isDigits(b) {
		// Compare arbitrarily long numbers without overflow: strip
		// leading zeros, then the longer is larger, then lexically.
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
