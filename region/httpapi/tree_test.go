package httpapi

import "testing"

func TestETagMatches(t *testing.T) {
	for _, c := range []struct {
		header string
		want   bool
	}{
		{`"abc"`, true},
		{`W/"abc"`, true},
		{`"x", W/"abc"`, true},
		{`*`, true},
		{`"abd"`, false},
		{``, false},
		{`abc`, true}, // unquoted, as some clients send
	} {
		if got := etagMatches(c.header, "abc"); got != c.want {
			t.Errorf("etagMatches(%q) = %v, want %v", c.header, got, c.want)
		}
	}
	if etagMatches(`""`, "") {
		t.Error("an empty generation matched")
	}
}
