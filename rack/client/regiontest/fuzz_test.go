package regiontest

// FuzzRange holds the fake region's Range handling to the real region's,
// which answers with net/http's ServeContent (region/httpapi sendFile), so
// rack tests run against the fake cannot pass on a Range the real region
// answers differently. Seeds are in testdata/fuzz/FuzzRange.

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"
)

// plainRange is the form of Range a rack sends; zeroSuffix is its suffix
// form asking for no byte.
var (
	plainRange = regexp.MustCompile(`^bytes=([0-9]{1,18}-[0-9]{0,18}|-[0-9]{1,18})$`)
	zeroSuffix = regexp.MustCompile(`^bytes=-0+$`)
)

func FuzzRange(f *testing.F) {
	for _, h := range []string{"", "bytes=0-0", "bytes=0-", "bytes=-1", "bytes=5-2", "bytes=100-", "bytes=-0", "bytes=0-99999",
		"bytes=1-2,4-5", "bytes= 1-2", "bytes=+1-2", "bytes=1-+2", "items=0-1", "bytes=-", "bytes=0x1-2", "bytes=00-01", "bytes=-100"} {
		f.Add(h, uint16(10))
	}
	f.Add("bytes=0-", uint16(0))
	f.Fuzz(func(t *testing.T, h string, n uint16) {
		size := int64(n % 4096)
		data := bytes.Repeat([]byte("0123456789abcdef"), int(size)/16+1)[:size]

		// The real region.
		req := httptest.NewRequest(http.MethodGet, "/api/v1/blobs/x", nil)
		if h != "" {
			req.Header.Set("Range", h)
		}
		rec := httptest.NewRecorder()
		http.ServeContent(rec, req, "", time.Time{}, bytes.NewReader(data))
		realStatus, realCR := rec.Code, rec.Header().Get("Content-Range")

		// The fake.
		lo, hi, ranged, err := parseRange(h, size)
		fakeStatus, fakeCR := http.StatusOK, ""
		switch {
		case err != nil:
			fakeStatus, fakeCR = http.StatusRequestedRangeNotSatisfiable, fmt.Sprintf("bytes */%d", size)
		case ranged:
			fakeStatus, fakeCR = http.StatusPartialContent, fmt.Sprintf("bytes %d-%d/%d", lo, hi-1, size)
		}

		// The fake may refuse (416) what the region serves, but whatever
		// the fake serves must be exactly what the region serves: a rack
		// test cannot pass against the fake where it would fail against
		// the region. For the plain single ranges a rack sends
		// ("bytes=A-B", "bytes=A-", "bytes=-N") both must also refuse
		// alike, but for a suffix of 0, which net/http serves as an empty
		// 206 with Content-Range "bytes SIZE-(SIZE-1)/SIZE" (invalid:
		// RFC 9110 calls it unsatisfiable) and the fake refuses, and but for
		// an empty file, which net/http serves whole whatever the range
		// and the fake refuses any range of (a rack asks no range of an
		// empty file: it has no block).
		if fakeStatus != http.StatusRequestedRangeNotSatisfiable {
			if fakeStatus != realStatus || fakeCR != realCR {
				t.Fatalf("Range %q on %d bytes: the region answers %d %q, the fake %d %q", h, size, realStatus, realCR, fakeStatus, fakeCR)
			}
			if !bytes.Equal(rec.Body.Bytes(), data[lo:hi]) {
				t.Fatalf("Range %q on %d bytes: the region sends %d bytes, the fake [%d, %d)", h, size, rec.Body.Len(), lo, hi)
			}
			return
		}
		if plainRange.MatchString(h) && size > 0 && realStatus != http.StatusRequestedRangeNotSatisfiable && !zeroSuffix.MatchString(h) {
			t.Fatalf("Range %q on %d bytes: the region answers %d %q, the fake refuses it", h, size, realStatus, realCR)
		}
	})
}
