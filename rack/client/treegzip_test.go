package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
)

// TestTreeGzip: the rack asks for the tree gzipped (about 7 times smaller
// at scale) and decodes it; a region that answers plain (an earlier
// release) still works; a body that says gzip but is not is an error that
// names the tree, not a tree, and so is a gzip trailer whose CRC does not
// match or data after the tree.
func TestTreeGzip(t *testing.T) {
	want := wire.Tree{Generation: "g9", Files: []wire.Entry{{Path: "ubuntu/amd64/ga-24.04/noble/stable/boot-kernel", Size: 7}}}
	plain, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(plain)
	zw.Close()
	badCRC := bytes.Clone(zipped.Bytes())
	badCRC[len(badCRC)-8] ^= 0xff // the trailer's CRC-32
	var mode string               // "gzip", "plain", "broken", "bad crc" or "trailing"
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Header.Get("Accept-Encoding"))
		w.Header().Set("ETag", `"g9"`)
		switch mode {
		case "gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(zipped.Bytes())
		case "broken":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(plain)
		case "bad crc":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(badCRC)
		case "trailing":
			w.Write(append(append([]byte(nil), plain...), "{}"...))
		default:
			w.Write(plain)
		}
	}))
	defer srv.Close()
	c, err := New(Options{Regions: []string{srv.URL}, Secret: secret, BackoffInitial: time.Millisecond, BackoffMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, mode = range []string{"gzip", "plain"} {
		got, etag, err := c.Tree(ctx, "", 0)
		if err != nil || got == nil || got.Generation != "g9" || len(got.Files) != 1 || got.Files[0].Path != want.Files[0].Path || etag != `"g9"` {
			t.Fatalf("%s: Tree = %+v, %q, %v", mode, got, etag, err)
		}
	}
	for _, a := range asked {
		if !strings.Contains(a, "gzip") {
			t.Fatalf("the rack asked Accept-Encoding %q, want gzip", a)
		}
	}
	for _, mode = range []string{"broken", "bad crc", "trailing"} {
		if got, _, err := c.Tree(ctx, "", 0); err == nil || !strings.Contains(err.Error(), "decoding tree") {
			t.Fatalf("%s: Tree = %+v, %v; want a decoding error", mode, got, err)
		}
	}
}
