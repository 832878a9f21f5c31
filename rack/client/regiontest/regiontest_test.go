package regiontest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/wire"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		h      string
		lo, hi int64
		bad    bool
	}{
		{"", 0, 100, false},
		{"bytes=0-9", 0, 10, false},
		{"bytes=90-", 90, 100, false},
		{"bytes=90-200", 90, 100, false},
		{"bytes=-10", 90, 100, false},
		{"bytes=100-", 0, 0, true},
		{"bytes=5-4", 0, 0, true},
		{"bytes=0-1,5-6", 0, 0, true},
		{"items=0-1", 0, 0, true},
	} {
		lo, hi, _, err := parseRange(tc.h, 100)
		if (err != nil) != tc.bad || (!tc.bad && (lo != tc.lo || hi != tc.hi)) {
			t.Errorf("parseRange(%q) = %d, %d, %v", tc.h, lo, hi, err)
		}
	}
}

func TestServe(t *testing.T) {
	r := New(t, "s")
	d := r.Add([]byte("0123456789"))
	get := func(secret, rng string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, r.URL()+wire.PathBlobs+d.String(), nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("wrong", ""); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", code)
	}
	if code, body := get("s", "bytes=2-4"); code != http.StatusPartialContent || body != "234" {
		t.Fatalf("range: %d %q", code, body)
	}
	r.Corrupt(d, 0, true)
	if _, body := get("s", "bytes=2-4"); body == "234" || !strings.HasSuffix(body, "34") {
		t.Fatalf("corrupt range: %q", body)
	}
	r.SetStatus(http.StatusBadGateway)
	if code, _ := get("s", ""); code != http.StatusBadGateway {
		t.Fatalf("SetStatus: %d", code)
	}
	if r.BlockRequests(d, 0) != 2 || r.Requests("blob") != 4 {
		t.Fatalf("counts: %d block requests, %d blob requests", r.BlockRequests(d, 0), r.Requests("blob"))
	}
}
