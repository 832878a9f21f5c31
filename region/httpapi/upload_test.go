package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/upload"
)

type noLock struct{}

func (noLock) Exclusive(fn func() error) error { return fn() }

// TestUploadStalledClientIsCut: a client that stops sending in the middle
// of a chunk is cut after the stall time (not held forever), what it sent
// stays, and the upload goes on from there.
func TestUploadStalledClientIsCut(t *testing.T) {
	a := startAPI(t, func(d *Deps) {
		d.WriteTimeout = 500 * time.Millisecond
		var id int64
		if err := d.DB.Pool().QueryRow(context.Background(),
			`INSERT INTO region (name, url) VALUES ('r1', 'http://r1') RETURNING id`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		d.Uploads = upload.New(upload.Config{DB: d.DB, Store: d.Store, RegionID: id, RegionName: "r1", Lock: noLock{}, Reserve: -1})
	})
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	in, _ := json.Marshal(wire.UploadStart{Name: "stall", Architecture: "amd64/generic", SHA256: digest.Of(data), Size: int64(len(data))})
	u := uploadCall(t, a, http.MethodPost, wire.PathUploads, "application/json", in, http.StatusOK)

	conn, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s/%s?offset=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
		wire.PathUploads, u.ID, testSecret, len(data))
	if _, err := conn.Write(data[:1<<20]); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.Copy(io.Discard, conn) // until the region cuts the stalled request
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("a stalled upload was held %v", took)
	}
	got := uploadCall(t, a, http.MethodGet, wire.PathUploads+"/"+u.ID, "", nil, http.StatusOK)
	if got.Received != 1<<20 {
		t.Fatalf("after the stall the region has %d bytes, want %d", got.Received, 1<<20)
	}
	done := uploadCall(t, a, http.MethodPut, fmt.Sprintf("%s/%s?offset=%d", wire.PathUploads, u.ID, 1<<20), "application/octet-stream", data[1<<20:], http.StatusOK)
	if !done.Done || done.Version == "" {
		t.Fatalf("after the rest: %+v", done)
	}
}

func uploadCall(t *testing.T, a *api, method, path, ctype string, body []byte, want int) wire.Upload {
	t.Helper()
	req, _ := http.NewRequest(method, a.url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testSecret)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	var u wire.Upload
	if err := json.Unmarshal(b, &u); err != nil {
		t.Fatalf("%s %s: %v in %q", method, path, err, b)
	}
	return u
}
