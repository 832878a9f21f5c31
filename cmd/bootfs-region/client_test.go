package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/testpoll"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// closedPort returns the URL of a port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// TestClientErrorsSayWhatToFix runs region commands against what an
// operator gets wrong, with real servers: a URL without scheme, a closed
// port, another web server (404 and an HTML page), a region whose secret is
// not the one in --secret-file. Each error names the problem and the fix.
func TestClientErrorsSayWhatToFix(t *testing.T) {
	secret := writeFile(t, "some-secret\n")
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1")
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Welcome to nginx!</body></html>"))
	}))
	defer html.Close()
	r := regiontest.StartRegion(t, regiontest.Options{})
	dead := closedPort(t)

	for _, tc := range []struct {
		name   string
		args   []string
		wants  []string
		refuse []string // must not appear
	}{
		{"no scheme", []string{"regions", "list", "--region", "localhost:5240", "--secret-file", secret},
			[]string{"has no scheme", "--region http://localhost:5240"}, nil},
		{"bare host", []string{"status", "--region", "region-host", "--secret-file", secret},
			[]string{"has no scheme", "--region http://region-host:5240"}, nil},
		{"connection refused", []string{"regions", "list", "--region", dead, "--secret-file", secret},
			[]string{"cannot reach the region at " + dead, "connection refused", "bootfs-region serve", "--region"}, nil},
		{"plain 404", []string{"sources", "list", "--region", notFound.URL, "--secret-file", secret},
			[]string{notFound.URL + " does not answer like a bootfs region", "404", "point --region"}, nil},
		{"nginx page", []string{"status", "--region", html.URL, "--secret-file", secret},
			[]string{"does not answer like a bootfs region", "nginx", "point --region"}, []string{"invalid character"}},
		{"wrong secret", []string{"regions", "list", "--region", r.URL(), "--secret-file", secret},
			[]string{"refused the shared secret in " + secret, "401", "/var/lib/maas/secret", "--secret-file"}, nil},
		{"import, wrong secret", []string{"import", "--region", r.URL(), "--secret-file", secret},
			[]string{"refused the shared secret in " + secret}, nil},
		{"missing secret file", []string{"regions", "list", "--region", r.URL(), "--secret-file", secret + ".none"},
			[]string{secret + ".none", "--secret-file"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runErr(tc.args...)
			if err == nil {
				t.Fatalf("succeeded:\n%s", out)
			}
			t.Logf("error: %v", err)
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q", w)
				}
			}
			for _, w := range tc.refuse {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error has %q", w)
				}
			}
		})
	}
}

// TestRegionsRemoveSaysWhatItDid removes a live and a stopped region and
// checks the command says which region went and what follows; an unknown
// name lists the regions there are.
func TestRegionsRemoveSaysWhatItDid(t *testing.T) {
	r1 := regiontest.StartRegion(t, regiontest.Options{Name: "r1"})
	r2 := regiontest.StartRegion(t, regiontest.Options{Name: "r2", DatabaseURL: r1.DBURL, SecretFile: r1.SecretFile})
	r3 := regiontest.StartRegion(t, regiontest.Options{Name: "r3", DatabaseURL: r1.DBURL, SecretFile: r1.SecretFile})
	remove := func(name string) (string, error) {
		return runErr("regions", "remove", name, "--region", r1.URL(), "--secret-file", r1.SecretFile)
	}
	// r1 lists regions from its boot tree, which follows registrations
	// shortly after they happen.
	testpoll.Until(t, 30*time.Second, "r1 to list r2 and r3", func() bool {
		out, err := runErr("regions", "list", "--region", r1.URL(), "--secret-file", r1.SecretFile)
		return err == nil && strings.Contains(out, "r2") && strings.Contains(out, "r3")
	})
	r3.Stop()
	out, err := remove("r2")
	if err != nil {
		t.Fatalf("regions remove r2: %v\n%s", err, out)
	}
	for _, w := range []string{"removed region r2 (" + r2.URL(), "last heartbeat", "still alive: stop its bootfs-region service",
		"no longer holds back new image versions"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	out, err = remove("r3")
	if err != nil {
		t.Fatalf("regions remove r3: %v\n%s", err, out)
	}
	// A cleanly stopped region is listed as stopped or, once the tree
	// followed, no more: either way the command says it went.
	if !strings.Contains(out, "removed region r3 (") || strings.Contains(out, "still alive") {
		t.Errorf("output for a stopped region:\n%s", out)
	}
	if _, err = remove("r9"); err == nil || !strings.Contains(err.Error(), `no region named "r9"; the regions are: r1`) {
		t.Errorf("remove unknown region: %v", err)
	}
}
