package httpapi

// Native fuzz targets for the request headers the region parses itself:
// If-None-Match lists (Range is http.ServeContent's; the conformance suite
// in package rack/client/regiontest holds the fake region to it). Seeds are
// in testdata/fuzz/<Target>.

import (
	"strings"
	"testing"
)

// strictMatch is RFC 9110 If-None-Match with weak comparison, read
// strictly: "*" or a comma-separated list of [W/]"opaque" tags.
func strictMatch(header, gen string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.Trim(tag, " \t")
		if tag == "*" {
			return true
		}
		tag = strings.TrimPrefix(tag, "W/")
		if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' && tag[1:len(tag)-1] == gen {
			return true
		}
	}
	return false
}

// FuzzETagMatches: every tag list that names the generation strictly
// matches (no needless full tree transfer), and a match other than "*"
// needs the generation itself in the header (no stale tree kept because of
// some other tag).
func FuzzETagMatches(f *testing.F) {
	gen := "5f2b0c9e1a7d4e83"
	for _, h := range []string{`"` + gen + `"`, `W/"` + gen + `"`, `"a", "` + gen + `"`, `*`, ``, `"` + gen, `""`, `W/""`, `"x",W/"` + gen + `" , "y"`, `"5f2b0c9e1a7d4e8"`} {
		f.Add(h, gen)
	}
	f.Add(`""`, "")
	f.Fuzz(func(t *testing.T, header, gen string) {
		got := etagMatches(header, gen)
		if strictMatch(header, gen) && gen != "" && !strings.ContainsAny(gen, "\",") && !got {
			t.Fatalf("If-None-Match %q names generation %q but does not match", header, gen)
		}
		if got && !strings.Contains(header, "*") && (gen == "" || !strings.Contains(header, gen)) {
			t.Fatalf("If-None-Match %q matches generation %q without naming it", header, gen)
		}
	})
}
