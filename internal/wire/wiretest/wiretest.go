// Package wiretest is the conformance suite of the region HTTP API as racks
// use it (package wire): secret, tree with ETag, If-None-Match and
// long-poll, blobs with Range, block digests, and the error answers. It is
// run against the real region (region/httpapi over a real store and
// PostgreSQL, in package region's tests) and against the fake region the
// rack's tests use (rack/client/regiontest), so the two cannot drift: a rack
// test that passes against the fake passes against the real thing.
//
// The suite needs only a URL, the secret and a tree with at least one file
// of more than one block; it reads everything else through the API itself
// and checks every byte against the sha256 the tree names.
package wiretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// Target is a region to test.
type Target struct {
	URL    string // base URL, e.g. "http://127.0.0.1:5240"
	Secret string
	// ChangeTree, if set, changes the region's tree (a new generation);
	// the suite then checks that a waiting long-poll wakes up with it.
	ChangeTree func(t *testing.T)
}

// Test runs the suite.
func Test(t *testing.T, tg Target) {
	c := &checker{tg: tg}
	t.Run("Secret", c.secret)
	t.Run("Tree", c.tree)
	t.Run("NotModified", c.notModified)
	t.Run("LongPollTimesOut", c.longPollTimesOut)
	t.Run("BadWait", c.badWait)
	t.Run("Blob", c.blob)
	t.Run("Range", c.ranges)
	t.Run("Blocks", c.blocks)
	t.Run("Unknown", c.unknown)
	if tg.ChangeTree != nil {
		t.Run("LongPollWakes", c.longPollWakes)
	}
}

type checker struct{ tg Target }

// do sends a request with the secret and the header pairs hdr (an empty
// value removes that header) and returns the response with its body read.
func (c *checker) do(t *testing.T, method, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.tg.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.tg.Secret)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp, body
}

// getTree fetches the tree and its ETag.
func (c *checker) getTree(t *testing.T) (wire.Tree, string) {
	t.Helper()
	resp, body := c.do(t, http.MethodGet, wire.PathTree)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET tree: %s", resp.Status)
	}
	var tr wire.Tree
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatalf("GET tree: %v", err)
	}
	return tr, resp.Header.Get("ETag")
}

// file returns the largest file of the tree and its bytes (checked
// against its sha256); it must span more than one block.
func (c *checker) file(t *testing.T) (wire.Entry, []byte) {
	t.Helper()
	tr, _ := c.getTree(t)
	var e wire.Entry
	for _, f := range tr.Files {
		if f.Size > e.Size {
			e = f
		}
	}
	if e.Size <= digest.BlockSize {
		t.Fatalf("the tree needs a file of more than one block (%d bytes); its largest has %d", digest.BlockSize, e.Size)
	}
	resp, body := c.do(t, http.MethodGet, wire.PathBlobs+e.SHA256.String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET blob %s: %s", e.Path, resp.Status)
	}
	if digest.Digest(sha256.Sum256(body)) != e.SHA256 || int64(len(body)) != e.Size {
		t.Fatalf("GET blob %s: %d bytes that do not match the tree's sha256 and size %d", e.Path, len(body), e.Size)
	}
	return e, body
}

func (c *checker) secret(t *testing.T) {
	e, _ := c.file(t)
	for _, path := range []string{wire.PathTree, wire.PathBlobs + e.SHA256.String(), wire.PathBlobs + e.SHA256.String() + "/blocks"} {
		for _, auth := range []string{"", "Bearer wrong-" + c.tg.Secret, "Bearer ", "Basic Og=="} {
			resp, _ := c.do(t, http.MethodGet, path, "Authorization", auth)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s with Authorization %q: %s, want 401", path, auth, resp.Status)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodGet, c.tg.URL+wire.PathHealth, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s without the secret: %s, want 200", wire.PathHealth, resp.Status)
	}
}

func (c *checker) tree(t *testing.T) {
	tr, etag := c.getTree(t)
	if tr.Generation == "" || etag != strconv.Quote(tr.Generation) {
		t.Errorf("tree generation %q served with ETag %q, want the generation quoted", tr.Generation, etag)
	}
	for _, f := range tr.Files {
		if f.Path == "" || f.SHA256.IsZero() || f.Size < 0 {
			t.Errorf("tree entry %+v", f)
		}
	}
}

func (c *checker) notModified(t *testing.T) {
	tr, etag := c.getTree(t)
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag} {
		resp, body := c.do(t, http.MethodGet, wire.PathTree, "If-None-Match", inm)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %s with ETag %q and %d body bytes, want 304 with ETag %s", inm, resp.Status, resp.Header.Get("ETag"), len(body), etag)
		}
	}
	for _, inm := range []string{`"not-` + tr.Generation + `"`, `W/"x"`} {
		resp, _ := c.do(t, http.MethodGet, wire.PathTree, "If-None-Match", inm)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %s with ETag %q, want 200 with %s", inm, resp.Status, resp.Header.Get("ETag"), etag)
		}
	}
}

func (c *checker) longPollTimesOut(t *testing.T) {
	_, etag := c.getTree(t)
	start := time.Now()
	resp, _ := c.do(t, http.MethodGet, wire.PathTree+"?wait=1s", "If-None-Match", etag)
	if took := time.Since(start); resp.StatusCode != http.StatusNotModified || took < 900*time.Millisecond || took > 20*time.Second {
		t.Errorf("long-poll of 1s on an unchanged tree: %s after %s, want 304 after about 1s", resp.Status, took)
	}
	start = time.Now()
	resp, _ = c.do(t, http.MethodGet, wire.PathTree+"?wait=30s", "If-None-Match", `"stale"`)
	if took := time.Since(start); resp.StatusCode != http.StatusOK || took > 10*time.Second {
		t.Errorf("long-poll with a stale ETag: %s after %s, want 200 at once", resp.Status, took)
	}
}

func (c *checker) badWait(t *testing.T) {
	for _, w := range []string{"soon", "-1s", "10"} {
		resp, _ := c.do(t, http.MethodGet, wire.PathTree+"?wait="+w)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET tree?wait=%s: %s, want 400", w, resp.Status)
		}
	}
}

func (c *checker) longPollWakes(t *testing.T) {
	_, etag := c.getTree(t)
	type answer struct {
		resp *http.Response
		took time.Duration
	}
	got := make(chan answer, 1)
	start := time.Now()
	go func() {
		// The longest wait the API allows: ChangeTree may take a while
		// (a real import under the race detector), and a long-poll that
		// times out answers 304, not 200.
		req, _ := http.NewRequest(http.MethodGet, c.tg.URL+wire.PathTree+"?wait=5m", nil)
		req.Header.Set("Authorization", "Bearer "+c.tg.Secret)
		req.Header.Set("If-None-Match", etag)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			got <- answer{}
			return
		}
		resp.Body.Close()
		got <- answer{resp, time.Since(start)}
	}()
	time.Sleep(300 * time.Millisecond) // let it wait
	c.tg.ChangeTree(t)
	a := <-got
	if a.resp == nil {
		t.FailNow()
	}
	if a.resp.StatusCode != http.StatusOK || a.resp.Header.Get("ETag") == etag {
		t.Errorf("long-poll across a tree change: %s with ETag %q after %s, want 200 with a new ETag", a.resp.Status, a.resp.Header.Get("ETag"), a.took)
	}
	// (The tree may have changed again since: an import can publish more
	// than one generation.)
}

func (c *checker) blob(t *testing.T) {
	e, data := c.file(t)
	resp, body := c.do(t, http.MethodGet, wire.PathBlobs+e.SHA256.String())
	if resp.Header.Get("Content-Length") != strconv.FormatInt(e.Size, 10) || !bytes.Equal(body, data) {
		t.Errorf("GET blob: Content-Length %q, %d bytes; want %d", resp.Header.Get("Content-Length"), len(body), e.Size)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("GET blob: Content-Type %q", ct)
	}
}

func (c *checker) ranges(t *testing.T) {
	e, data := c.file(t)
	size := e.Size
	path := wire.PathBlobs + e.SHA256.String()
	bs := int64(digest.BlockSize)
	for _, r := range []struct {
		h      string
		lo, hi int64 // served bytes [lo, hi)
	}{
		{"bytes=0-0", 0, 1},
		{fmt.Sprintf("bytes=0-%d", bs-1), 0, bs},
		{fmt.Sprintf("bytes=%d-%d", bs, min(2*bs, size)-1), bs, min(2*bs, size)},
		{fmt.Sprintf("bytes=%d-%d", bs-10, bs+9), bs - 10, bs + 10},
		{fmt.Sprintf("bytes=%d-", size-1), size - 1, size},
		{"bytes=-10", size - 10, size},
		{fmt.Sprintf("bytes=%d-%d", size-5, size+100), size - 5, size},
		{fmt.Sprintf("bytes=-%d", size+5), 0, size},
	} {
		resp, body := c.do(t, http.MethodGet, path, "Range", r.h)
		want := fmt.Sprintf("bytes %d-%d/%d", r.lo, r.hi-1, size)
		if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != want ||
			resp.Header.Get("Content-Length") != strconv.FormatInt(r.hi-r.lo, 10) || !bytes.Equal(body, data[r.lo:r.hi]) {
			t.Errorf("Range %s: %s, Content-Range %q, Content-Length %q, %d bytes; want 206, %q and bytes [%d, %d)",
				r.h, resp.Status, resp.Header.Get("Content-Range"), resp.Header.Get("Content-Length"), len(body), want, r.lo, r.hi)
		}
	}
	for _, h := range []string{fmt.Sprintf("bytes=%d-", size), fmt.Sprintf("bytes=%d-%d", size+1, size+2)} {
		resp, _ := c.do(t, http.MethodGet, path, "Range", h)
		if want := fmt.Sprintf("bytes */%d", size); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != want {
			t.Errorf("Range %s past the end: %s, Content-Range %q; want 416 and %q", h, resp.Status, resp.Header.Get("Content-Range"), want)
		}
	}
	for _, h := range []string{"bytes=5-2", "items=0-1", "bytes=x-1"} {
		if resp, _ := c.do(t, http.MethodGet, path, "Range", h); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("malformed Range %q: %s, want 416", h, resp.Status)
		}
	}
}

// blocks checks the block digests a client gets: BLAKE3 ones (named so)
// when it announces BLAKE3, SHA-256 ones when it does not (a rack of an
// earlier release, which checks every digest as a SHA-256).
func (c *checker) blocks(t *testing.T) {
	e, data := c.file(t)
	for _, ask := range []struct{ query, algo string }{
		{"?" + wire.BlockAlgorithmsParam + "=" + digest.BLAKE3, digest.BLAKE3},
		{"", digest.SHA256},
	} {
		resp, body := c.do(t, http.MethodGet, wire.PathBlobs+e.SHA256.String()+"/blocks"+ask.query)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET blocks%s: %s", ask.query, resp.Status)
		}
		var bd wire.BlockDigests
		if err := json.Unmarshal(body, &bd); err != nil {
			t.Fatalf("GET blocks%s: %v", ask.query, err)
		}
		if bd.Algorithm != ask.algo {
			t.Fatalf("GET blocks%s: algorithm %q, want %q", ask.query, bd.Algorithm, ask.algo)
		}
		h := digest.NewHasherOf(ask.algo, digest.BlockSize)
		h.Write(data)
		whole, blocks := h.Sum()
		if bd.SHA256 != whole || bd.Size != e.Size || bd.BlockSize != digest.BlockSize || len(bd.Blocks) != len(blocks) {
			t.Fatalf("GET blocks%s: %s size %d block size %d, %d blocks; want %s, %d, %d, %d", ask.query, bd.SHA256, bd.Size, bd.BlockSize, len(bd.Blocks), whole, e.Size, digest.BlockSize, len(blocks))
		}
		for i := range blocks {
			if bd.Blocks[i] != blocks[i] {
				t.Errorf("GET blocks%s: block %d: digest %s, want %s", ask.query, i, bd.Blocks[i], blocks[i])
			}
		}
	}
}

func (c *checker) unknown(t *testing.T) {
	absent := digest.Of([]byte("no region holds this")).String()
	for path, want := range map[string]int{
		wire.PathBlobs + absent:             http.StatusNotFound,
		wire.PathBlobs + absent + "/blocks": http.StatusNotFound,
		wire.PathBlobs + "not-a-sha256":     http.StatusBadRequest,
	} {
		if resp, _ := c.do(t, http.MethodGet, path); resp.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, want)
		}
	}
}
