package e2e

import (
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// testHTTP: the stock nginx with the packaging's site serves the mount:
// /images/<hash>/<path> the way MAAS 3.5 racks do, the path layout, Range
// requests (single, suffix, multi-part), all byte-identical, and 404 for
// what is not a file of the tree.
func (g *rig) testHTTP(t *testing.T) {
	m := g.mount(t, mountSpec{})
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	startNginx(t, "", nginxSite(t, g, m.dir, addr, ""), addr)
	base := "http://" + addr

	kernel, big := g.want(t, kernelPath), g.want(t, bigPath)
	khash, bhash := g.imageName(t, kernelPath), g.imageName(t, bigPath)
	for _, tc := range []struct {
		path string
		want []byte
	}{
		{"/images/" + khash + "/ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel", kernel},
		{"/images/" + khash, kernel},
		{"/" + kernelPath, kernel},
		{"/images/" + bhash + "/ubuntu/amd64/ga-22.04/jammy/stable/squashfs", big},
		{"/" + loaderPath, g.want(t, loaderPath)},
		{"/bootloaders/uefi/amd64/grubx64.efi", g.want(t, "grubx64.efi")},
	} {
		code, hdr, body := httpGet(t, base+tc.path, "")
		if code != http.StatusOK {
			t.Errorf("GET %s: %d", tc.path, code)
			continue
		}
		sameBytes(t, "GET "+tc.path, body, tc.want)
		if strings.HasPrefix(tc.path, "/images/") && !strings.Contains(hdr.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: Cache-Control %q", tc.path, hdr.Get("Cache-Control"))
		}
	}

	url := base + "/images/" + bhash + "/ubuntu/amd64/ga-22.04/jammy/stable/squashfs"
	n := int64(len(big))
	for _, tc := range []struct {
		rng    string
		lo, hi int64 // inclusive
	}{
		{"bytes=1000000-3500000", 1000000, 3500000}, // across block boundaries
		{"bytes=1048576-2097151", 1048576, 2097151}, // exactly block 1
		{"bytes=-4096", n - 4096, n - 1},
		{fmt.Sprintf("bytes=%d-", n-10), n - 10, n - 1},
	} {
		code, hdr, body := httpGet(t, url, tc.rng)
		if code != http.StatusPartialContent {
			t.Errorf("Range %s: %d", tc.rng, code)
			continue
		}
		if want := fmt.Sprintf("bytes %d-%d/%d", tc.lo, tc.hi, n); hdr.Get("Content-Range") != want {
			t.Errorf("Range %s: Content-Range %q, want %q", tc.rng, hdr.Get("Content-Range"), want)
		}
		sameBytes(t, "Range "+tc.rng, body, big[tc.lo:tc.hi+1])
	}

	// Two ranges: a multipart/byteranges answer.
	code, hdr, body := httpGet(t, url, "bytes=0-99,5242880-5243903")
	mt, params, err := mime.ParseMediaType(hdr.Get("Content-Type"))
	if code != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
		t.Fatalf("two ranges: %d %q %v", code, hdr.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(strings.NewReader(string(body)), params["boundary"])
	for _, want := range [][2]int{{0, 99}, {5242880, 5243903}} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		b, _ := io.ReadAll(p)
		sameBytes(t, fmt.Sprintf("part %v", want), b, big[want[0]:want[1]+1])
	}

	// Validators are stable.
	_, h1, _ := httpGet(t, base+"/"+kernelPath, "bytes=0-0")
	_, h2, _ := httpGet(t, base+"/"+kernelPath, "bytes=0-0")
	if h1.Get("ETag") == "" || h1.Get("ETag") != h2.Get("ETag") || h1.Get("Last-Modified") == "" {
		t.Errorf("ETag %q then %q, Last-Modified %q", h1.Get("ETag"), h2.Get("ETag"), h1.Get("Last-Modified"))
	}

	for _, missing := range []string{"/images/0000000/ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel",
		"/images/", "/ubuntu/", "/pxelinux.cfg/default", "/images/" + khash + "x"} {
		if code, _, _ := httpGet(t, base+missing, ""); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", missing, code)
		}
	}
}
