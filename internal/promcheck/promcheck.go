// Package promcheck runs Prometheus' own linter, `promtool check metrics`,
// on a scrape in tests, so bootfs' metric names, types, units and help texts
// follow the ecosystem's conventions (suffixes _total, _seconds, _bytes;
// one prefix per daemon). promtool comes with Debian's prometheus package
// (scripts/install-deps.sh); without it the test skips through testskip,
// which fails it in CI.
package promcheck

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/testskip"
)

// Scrape GETs url (with an Authorization header when auth is not empty)
// and returns the body; any status but 200 fails t.
func Scrape(t testing.TB, url, auth string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s: %s", url, resp.Status, body)
	}
	return body
}

// Check runs `promtool check metrics` on a scrape and fails t on any
// problem it reports (or if it cannot parse the text).
func Check(t testing.TB, scrape []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		testskip.Skip(t, "promtool not found: install Debian's prometheus package (scripts/install-deps.sh)")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
