package regiontest

import "strings"

// noneMatch reports whether an If-None-Match header names generation gen
// the way the real region reads it (region/httpapi): "*", or a
// comma-separated list of entity tags, each possibly weak (W/"...").
// TestConformance holds the two to the same answers.
func noneMatch(header, gen string) bool {
	if header == "" {
		return false
	}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == `"`+gen+`"` {
			return true
		}
	}
	return false
}
