package client

// FuzzContentRange holds the rack's Content-Range check to what the region
// answers (net/http's ServeContent, as region/httpapi serves blobs): the
// region's answer to the Range the rack sends is accepted, and no header
// naming other bytes is. Seeds are in testdata/fuzz/FuzzContentRange.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// zeros is a ReadSeeker of size zero bytes that allocates nothing.
type zeros struct{ off, size int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.off >= z.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.size-z.off))
	clear(p[:n])
	z.off += int64(n)
	return n, nil
}

func (z *zeros) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		z.off = off
	case io.SeekCurrent:
		z.off += off
	case io.SeekEnd:
		z.off = z.size + off
	}
	return z.off, nil
}

func FuzzContentRange(f *testing.F) {
	f.Add("bytes 0-1048575/4194304", int64(0), int64(1048575), int64(4194304))
	f.Add("bytes 1048576-1048999/1049000", int64(1048576), int64(1048999), int64(1049000))
	f.Add("bytes 0-1048575", int64(0), int64(1048575), int64(5))
	f.Add("bytes  0-1/2", int64(0), int64(1), int64(2))
	f.Add("bytes +0-1/2", int64(0), int64(1), int64(2))
	f.Add("bytes 00-1/2", int64(0), int64(1), int64(2))
	f.Fuzz(func(t *testing.T, h string, first, last, size int64) {
		err := checkContentRange(h, first, last)
		want := fmt.Sprintf("bytes %d-%d/", first, last)
		if err == nil && !strings.HasPrefix(h, want) {
			t.Fatalf("Content-Range %q accepted for bytes %d-%d", h, first, last)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Quote(h)) {
			t.Fatalf("error %q does not quote the header", err)
		}
		// What the region answers for a range the rack may ask (a block
		// or less, inside the file) passes the check.
		if first < 0 || last < first || last-first >= 1<<20 || size <= last || size > 1<<50 {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/api/v1/blobs/x", nil)
		req.Header.Set("Range", "bytes="+strconv.FormatInt(first, 10)+"-"+strconv.FormatInt(last, 10))
		rec := httptest.NewRecorder()
		http.ServeContent(rec, req, "", time.Time{}, &zeros{size: size})
		if rec.Code != http.StatusPartialContent {
			t.Fatalf("bytes %d-%d of %d: region answers %d", first, last, size, rec.Code)
		}
		if err := checkContentRange(rec.Header().Get("Content-Range"), first, last); err != nil {
			t.Fatalf("bytes %d-%d of %d: the region's answer is refused: %v", first, last, size, err)
		}
		if int64(rec.Body.Len()) != last-first+1 {
			t.Fatalf("bytes %d-%d of %d: %d bytes sent", first, last, size, rec.Body.Len())
		}
	})
}
