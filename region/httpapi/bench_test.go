package httpapi

import (
	"io"
	"net/http"
	"testing"

	"github.com/bootfs/bootfs/internal/wire"
)

// BenchmarkServeBlob: a 64 MiB stored file over loopback HTTP, verified as
// it is sent, to a client that discards it.
func BenchmarkServeBlob(b *testing.B) {
	a := startAPIB(b)
	d, content := a.putB(b, 64<<20)
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, a.url+wire.PathBlobs+d.String(), nil)
		req.Header.Set("Authorization", "Bearer "+testSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(len(content)) {
			b.Fatal(n, err)
		}
	}
}
