package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// fakeUploads answers an upload's declaration with Done and records it (a
// unit test of the command line; the real region is tested in region/).
type fakeUploads struct {
	mu  sync.Mutex
	got []wire.UploadStart
}

func (f *fakeUploads) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != wire.PathUploads || r.Header.Get("Authorization") != "Bearer s" {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
		return
	}
	var in wire.UploadStart
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.got = append(f.got, in)
	f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(wire.Upload{ID: "x", UploadStart: in, Received: in.Size, Done: true, Resource: in.Name, Version: "20260101"})
}

// TestImagesUploadFlags: MAAS's naming (NAME and custom/NAME are os custom,
// OS/RELEASE keeps its os), the flags reach the region as declared (with
// the file's sha256 and size), and bad input is refused before anything
// is sent, with a message naming the fix.
func TestImagesUploadFlags(t *testing.T) {
	fake := &fakeUploads{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	file := filepath.Join(dir, "img")
	data := []byte("not really a tarball")
	if err := os.WriteFile(secret, []byte("s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--region", srv.URL, "--secret-file", secret}
	for _, c := range []struct {
		args []string
		want wire.UploadStart
	}{
		{[]string{"myimage", file, "--architecture", "amd64/generic"},
			wire.UploadStart{Name: "custom/myimage", Architecture: "amd64/generic", Filetype: "tgz"}},
		{[]string{"custom/myimage", file, "--architecture", "arm64/generic", "--filetype", "ddraw", "--title", "My image"},
			wire.UploadStart{Name: "custom/myimage", Architecture: "arm64/generic", Filetype: "ddraw", Title: "My image"}},
		{[]string{"rhel/9", file, "--architecture", "amd64/generic", "--filetype", "ddtgz", "--base-image", "rhel/9"},
			wire.UploadStart{Name: "rhel/9", Architecture: "amd64/generic", Filetype: "ddtgz", BaseImage: "rhel/9"}},
		{[]string{"windows/win2016", file, "--architecture", "amd64/generic", "--filetype", "ddgz"},
			wire.UploadStart{Name: "windows/win2016", Architecture: "amd64/generic", Filetype: "ddgz"}},
	} {
		fake.got = nil
		out, err := runErr(append(append([]string{"images", "upload"}, c.args...), common...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.args, err, out)
		}
		c.want.SHA256, c.want.Size = digest.Of(data), int64(len(data))
		if len(fake.got) != 1 || fake.got[0] != c.want {
			t.Errorf("%v declared %+v, want %+v", c.args, fake.got, c.want)
		}
		if !strings.Contains(out, "uploaded "+c.want.Name+" "+c.want.Architecture+" version 20260101") {
			t.Errorf("%v printed %q", c.args, out)
		}
	}
	fake.got = nil
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"x", file, "--architecture", "amd64/generic", "--filetype", "zip"},
			`unknown filetype "zip": use one of tgz, tbz, txz, ddtgz, ddtbz, ddtxz, ddtar, ddbz2, ddgz, ddxz, ddraw`},
		{[]string{"x", file, "--architecture", "amd64"}, "give ARCH/SUBARCH"},
		{[]string{"x", file}, `Required flag "architecture" not set`},
		{[]string{"a/b/c", file, "--architecture", "amd64/generic"}, "more than one '/'"},
		{[]string{"x", file, "--architecture", "amd64/generic", "--base-image", "noble"}, "give OS/RELEASE"},
		{[]string{"x", "--architecture", "amd64/generic"}, "give NAME and FILE"},
		{[]string{"x", filepath.Join(dir, "missing"), "--architecture", "amd64/generic"}, "no such file"},
	} {
		out, err := runErr(append(append([]string{"images", "upload"}, c.args...), common...)...)
		if err == nil || !strings.Contains(err.Error()+out, c.want) {
			t.Errorf("%v: %v %q, want an error with %q", c.args, err, out, c.want)
		}
	}
	if len(fake.got) != 0 {
		t.Errorf("bad input reached the region: %+v", fake.got)
	}
}
