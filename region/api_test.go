package region_test

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
)

func TestSecretAndRange(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	if err := r.ImportNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	k := byPath(r.Tree(t))["ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"]
	blob := wire.PathBlobs + k.SHA256.String()

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for name, auth := range map[string]string{"missing": "", "wrong": "Bearer nope", "wrong basic": "Basic eDpub3Bl"} {
		for _, path := range []string{wire.PathTree, blob, wire.PathStatus, wire.PathMetrics, "/"} {
			req, _ := http.NewRequest("GET", r.URL()+path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if path == "/" {
				// The console sends a person to its login form instead.
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
					t.Errorf("%s secret, GET /: %s to %q, want 303 to /login", name, resp.Status, resp.Header.Get("Location"))
				}
				continue
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s secret, GET %s: %s, want 401", name, path, resp.Status)
			}
		}
	}
	resp, err := http.Get(r.URL() + wire.PathHealth)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health check without secret: %v %v", resp, err)
	}
	resp.Body.Close()
	// A browser: Basic auth with the secret as password.
	req, _ := http.NewRequest("GET", r.URL()+"/", nil)
	req.SetBasicAuth("admin", r.Secret)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status page with basic auth: %v %v", resp.Status, err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "ubuntu/jammy") {
		t.Error("status page does not list ubuntu/jammy")
	}

	// Basic auth is for reading: a cross-site form post carries it too.
	req, _ = http.NewRequest("POST", r.URL()+wire.PathSources, strings.NewReader(`{"url":"http://evil/","unsigned":true,"pad":"="}`))
	req.SetBasicAuth("admin", r.Secret)
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST sources with Basic auth: %v %v, want 401", resp.Status, err)
	}
	req, _ = http.NewRequest("POST", r.URL()+wire.PathSources, strings.NewReader(`{"url":"http://evil/","unsigned":true}`))
	req.Header.Set("Authorization", "Bearer "+r.Secret)
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("POST sources as text/plain: %v %v, want 415", resp.Status, err)
	}
	if srcs, err := r.DB().Sources(context.Background()); err != nil || len(srcs) != 1 {
		t.Fatalf("sources after refused posts: %d, %v", len(srcs), err)
	}

	for _, bad := range []string{"bytes=zz", "bytes=999999999-", "bytes=5-2"} {
		resp := r.Get(t, blob, http.Header{"Range": {bad}})
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("Range %q: %s, want 416", bad, resp.Status)
		}
	}
	full := body(t, r.Get(t, blob, nil))
	resp = r.Get(t, blob, http.Header{"Range": {"bytes=10-19"}})
	if got := body(t, resp); resp.StatusCode != 206 || string(got) != string(full[10:20]) {
		t.Errorf("single range: %s %q", resp.Status, got)
	}
	resp = r.Get(t, blob, http.Header{"Range": {"bytes=0-3,100-103"}})
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || err != nil {
		t.Fatalf("multi range: %s %v", resp.Status, err)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, string(b))
	}
	if len(parts) != 2 || parts[0] != string(full[0:4]) || parts[1] != string(full[100:104]) {
		t.Errorf("multi range parts wrong: %q", parts)
	}
	// Unknown digest: 404; malformed: 400.
	if resp := r.Get(t, wire.PathBlobs+strings.Repeat("0", 64), nil); resp.StatusCode != 404 {
		t.Errorf("unknown blob: %s", resp.Status)
	}
	if resp := r.Get(t, wire.PathBlobs+"xyz", nil); resp.StatusCode != 400 {
		t.Errorf("malformed digest: %s", resp.Status)
	}
	// Metrics count what was served.
	metrics := string(body(t, r.Get(t, wire.PathMetrics, nil)))
	for _, want := range []string{`bootfs_region_http_requests_total{code="206",endpoint="blob"}`, "bootfs_region_http_sent_bytes_total", "bootfs_region_import_bytes_total", "bootfs_region_import_progress_done_bytes", "bootfs_region_store_bytes", "bootfs_region_store_files"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestTreeLongPoll(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	first := r.Get(t, wire.PathTree, nil)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if resp := r.Get(t, wire.PathTree, http.Header{"If-None-Match": {etag}}); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("unchanged tree: %s, want 304", resp.Status)
	}
	got := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("GET", r.URL()+wire.PathTree+"?wait=60s", nil)
		req.Header.Set("Authorization", "Bearer "+r.Secret)
		req.Header.Set("If-None-Match", etag)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		got <- resp
	}()
	if err := r.ImportNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp := <-got
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Fatalf("long-poll after import: %s etag %s", resp.Status, resp.Header.Get("ETag"))
	}
}
