package region_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
)

// fetch GETs path and reads the whole body; err is the transport's or the
// body's error (a cut response).
func fetch(t *testing.T, r *regiontest.Region, path string, header http.Header) (code int, b []byte, err error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+r.Secret)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err = io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// TestServingVerifiesEveryByte flips a byte in a stored file and requests
// it whole, as a single range, as a multi-part range and by its MAAS path:
// each time the client gets an error instead of a complete body, the file
// is quarantined at once and fetched again (with the background verifier
// off, only serving can have found it).
func TestServingVerifiesEveryByte(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.005})
	r := regiontest.StartRegion(t, regiontest.Options{}) // VerifyRate -1: no background verifier
	r.AddSource(t, m)
	ctx := context.Background()
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	var big wire.Entry
	for _, e := range r.Tree(t).Files {
		if e.Size > big.Size {
			big = e
		}
	}
	if big.Size < 3*digest.BlockSize {
		t.Fatalf("largest file %s has %d bytes; the test needs at least 3 blocks", big.Path, big.Size)
	}
	sha := big.SHA256.String()
	path := filepath.Join(r.Storage, sha)
	quarantined := func() int {
		ents, _ := os.ReadDir(filepath.Join(r.Storage, ".quarantine"))
		return len(ents)
	}
	off := int64(digest.BlockSize + 4321) // in the second block: the first goes out before the damage is met
	cases := []struct {
		name, path, rng string
	}{
		{"whole blob", wire.PathBlobs + sha, ""},
		{"single range", wire.PathBlobs + sha, "bytes=" + strconv.FormatInt(off-10, 10) + "-" + strconv.FormatInt(off+10, 10)},
		{"range across blocks", wire.PathBlobs + sha, "bytes=100-" + strconv.FormatInt(off+digest.BlockSize, 10)},
		{"multi-part range", wire.PathBlobs + sha, "bytes=0-99," + strconv.FormatInt(off-5, 10) + "-" + strconv.FormatInt(off+5, 10)},
		{"MAAS path", wire.PathMAAS + sha + "/ubuntu/amd64/whatever", ""},
	}
	for i, c := range cases {
		damage.FlipByte(t, path, off)
		h := http.Header{}
		if c.rng != "" {
			h.Set("Range", c.rng)
		}
		code, b, err := fetch(t, r, c.path, h)
		if err == nil {
			t.Errorf("%s: GET of the damaged file completed: %d, %d bytes (sha %s)", c.name, code, len(b), digest.Of(b))
		} else {
			t.Logf("%s: the client saw %d, %d bytes, then %v", c.name, code, len(b), err)
		}
		if q := quarantined(); q != i+1 {
			t.Errorf("%s: %d files in quarantine right after the GET, want %d", c.name, q, i+1)
		}
		// Forgotten, so an import fetches it again; served whole and right.
		regiontest.Eventually(t, 60*time.Second, c.name+": re-fetch of the quarantined file", func() bool {
			b, err := os.ReadFile(path)
			return err == nil && int64(len(b)) == big.Size && digest.Of(b) == big.SHA256
		})
		regiontest.Eventually(t, 30*time.Second, c.name+": the re-fetched file served again", func() bool {
			code, b, err := fetch(t, r, wire.PathBlobs+sha, nil)
			return err == nil && code == http.StatusOK && digest.Of(b) == big.SHA256
		})
	}
	// Good bytes are served as before: whole, a range and multi-part.
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if code, b, err := fetch(t, r, wire.PathBlobs+sha, http.Header{"Range": {"bytes=1048000-2100000"}}); err != nil || code != http.StatusPartialContent || string(b) != string(want[1048000:2100001]) {
		t.Errorf("range of an intact file: %d, %d bytes, %v", code, len(b), err)
	}
	if code, _, err := fetch(t, r, wire.PathBlobs+sha, http.Header{"Range": {"bytes=0-1,2097152-2097160"}}); err != nil || code != http.StatusPartialContent {
		t.Errorf("multi-part range of an intact file: %d, %v", code, err)
	}
}

// TestServingNoticesWrongSize truncates a stored file: it is quarantined
// and answered 404 instead of a short body.
func TestServingNoticesWrongSize(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	if err := r.ImportNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	k := byPath(r.Tree(t))["ubuntu/amd64/ga-24.04/noble/stable/boot-kernel"]
	path := filepath.Join(r.Storage, k.SHA256.String())
	if err := os.Truncate(path, k.Size-1); err != nil {
		t.Fatal(err)
	}
	code, b, err := fetch(t, r, wire.PathBlobs+k.SHA256.String(), nil)
	if err != nil || code != http.StatusNotFound {
		t.Errorf("GET of a truncated file: %d, %d bytes, %v; want 404", code, len(b), err)
	}
	regiontest.Eventually(t, 60*time.Second, "re-fetch of the truncated file", func() bool {
		b, err := os.ReadFile(path)
		return err == nil && digest.Of(b) == k.SHA256
	})
}
