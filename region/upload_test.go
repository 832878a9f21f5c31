package region_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/testskip"
	"github.com/bootfs/bootfs/internal/tmpfs"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack"
	"github.com/bootfs/bootfs/region"
	"github.com/bootfs/bootfs/region/upload"
)

// uploadPath is where the tree shows custom image NAME uploaded as tgz for
// amd64/generic, MAAS's layout for uploaded resources.
func uploadPath(name string) string { return "custom/amd64/generic/" + name + "/uploaded/root-tgz" }

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// slowReaderAt delays every read, so an upload can be interrupted midway.
type slowReaderAt struct {
	r     io.ReaderAt
	delay time.Duration
}

func (s slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(s.delay)
	return s.r.ReadAt(p[:min(len(p), 256<<10)], off)
}

func declare(name string, data []byte) wire.UploadStart {
	return wire.UploadStart{Name: name, Architecture: "amd64/generic", SHA256: digest.Of(data), Size: int64(len(data))}
}

// treeEntry returns the entry at path in r's tree.
func treeEntry(t *testing.T, r *regiontest.Region, path string) (wire.Entry, bool) {
	for _, e := range r.Tree(t).Files {
		if e.Path == path {
			return e, true
		}
	}
	return wire.Entry{}, false
}

// TestUploadKilledResumedSyncedMounted: an upload to a region process is
// cut by kill -9 of that region; after a restart the same command resumes
// and sends only the rest; the other region copies the file from it; it is
// published at MAAS's path for uploaded resources and under images/, and a
// mounted rack serves the right bytes there.
func TestUploadKilledResumedSyncedMounted(t *testing.T) {
	bin := buildRegion(t)
	dbURL := pgtest.NewDatabase(t)
	storage := filepath.Join(t.TempDir(), "store")
	secret := filepath.Join(t.TempDir(), "secret")
	mustWrite(t, secret, "up-secret\n")
	p := newRegionProc(t, bin, "--database-url", dbURL, "--storage", storage, "--secret-file", secret, "--name", "r1")
	first := p.start()
	r2 := regiontest.StartRegion(t, regiontest.Options{Name: "r2", DatabaseURL: dbURL, SecretFile: secret, Config: fastClaims})

	data := randomBytes(7, 24<<20+12345)
	file := filepath.Join(t.TempDir(), "root.tgz")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// A slow client, cut off by kill -9 of the region it sends to.
	cl := &upload.Client{Base: p.base, Secret: "up-secret", Chunk: 4 << 20}
	errc := make(chan error, 1)
	go func() {
		_, err := cl.Send(context.Background(), declare("myimage", data), slowReaderAt{r: bytes.NewReader(data), delay: 50 * time.Millisecond})
		errc <- err
	}()
	partialOver(t, storage, 6<<20)
	kill9(t, first)
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "run the same command again") {
		t.Fatalf("interrupted upload: %v, want an error saying to run the command again", err)
	}
	if _, err := os.Stat(filepath.Join(storage, digest.Of(data).String())); err == nil {
		t.Fatal("the interrupted upload has its final name")
	}
	if _, ok := treeEntry(t, r2, uploadPath("myimage")); ok {
		t.Fatal("the interrupted upload is in the tree")
	}

	// The same command, against the restarted region, sends only the rest.
	p.start()
	out, err := exec.Command(bin, "images", "upload", "myimage", file, "--architecture", "amd64/generic",
		"--region", p.base, "--secret-file", secret).CombinedOutput()
	if err != nil {
		t.Fatalf("images upload: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`uploaded custom/myimage amd64/generic version (\S+): (\d+) bytes sent, (\d+) already on the region`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("images upload printed:\n%s", out)
	}
	sent, _ := strconv.ParseInt(string(m[2]), 10, 64)
	had, _ := strconv.ParseInt(string(m[3]), 10, 64)
	t.Logf("resume: %d bytes sent, %d were on the region, of %d", sent, had, len(data))
	if had < 6<<20 || sent+had != int64(len(data)) {
		t.Errorf("resume sent %d bytes with %d on the region, of %d: want only the missing bytes sent", sent, had, len(data))
	}

	// Published once both regions hold it (r2 copies it from r1).
	var e wire.Entry
	regiontest.Eventually(t, 60*time.Second, "the upload in the tree", func() bool {
		var ok bool
		e, ok = treeEntry(t, r2, uploadPath("myimage"))
		return ok
	})
	if e.SHA256 != digest.Of(data) || e.Size != int64(len(data)) || len(e.Regions) != 2 {
		t.Fatalf("tree entry %+v", e)
	}
	b, err := r2.DB().BlobByName(context.Background(), e.SHA256.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := treeEntry(t, r2, "images/"+b.FilenameOnDisk); !ok {
		t.Errorf("images/%s is not in the tree", b.FilenameOnDisk)
	}
	if rt, ok, err := r2.DB().ResourceType(context.Background(), "custom/myimage", "amd64/generic"); err != nil || !ok || rt != 2 {
		t.Errorf("resource type %d %v %v, want 2 (uploaded)", rt, ok, err)
	}
	mountAndRead(t, []string{r2.URL()}, "up-secret", uploadPath("myimage"), data)
}

// mountAndRead mounts a rack on regions and checks the file at path.
func mountAndRead(t *testing.T, regions []string, secret, path string, want []byte) {
	t.Helper()
	if os.Geteuid() != 0 {
		testskip.Skip(t, "mounting a rack needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		testskip.Skipf(t, "mounting a rack needs /dev/fuse: %v", err)
	}
	dir := t.TempDir()
	mp := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mnt, err := rack.Start(ctx, rack.Config{Regions: regions, Secret: secret, Mountpoint: mp,
		CacheDir: filepath.Join(dir, "cache"), CacheSize: 64 << 20, TreeWait: 2 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("mount rack: %v", err)
	}
	defer func() {
		if err := mnt.Close(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	}()
	got, err := os.ReadFile(filepath.Join(mp, path))
	if err != nil {
		t.Fatalf("read %s on the rack: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the rack's %s: %d bytes, not the %d uploaded", path, len(got), len(want))
	}
}

// apiCall sends a request to a region's API with the secret.
func apiCall(t *testing.T, r *regiontest.Region, method, path, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.Secret)
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func startUpload(t *testing.T, r *regiontest.Region, in wire.UploadStart) (int, wire.Upload, string) {
	t.Helper()
	b, _ := json.Marshal(in)
	code, out := apiCall(t, r, http.MethodPost, wire.PathUploads, "application/json", b)
	var u wire.Upload
	if code == http.StatusOK {
		if err := json.Unmarshal(out, &u); err != nil {
			t.Fatal(err)
		}
	}
	return code, u, string(out)
}

func putChunk(t *testing.T, r *regiontest.Region, id string, off int64, b []byte) (int, string) {
	t.Helper()
	code, out := apiCall(t, r, http.MethodPut, wire.PathUploads+"/"+id+"?offset="+strconv.FormatInt(off, 10), "application/octet-stream", b)
	return code, string(out)
}

// assertNothingStored: no resource, no upload row, no file (final or
// partial) for data on region r.
func assertNothingStored(t *testing.T, r *regiontest.Region, name string, data []byte) {
	t.Helper()
	ctx := context.Background()
	if _, ok, err := r.DB().ResourceType(ctx, name, "amd64/generic"); err != nil || ok {
		t.Errorf("resource %s exists (%v)", name, err)
	}
	if _, err := r.DB().FindUpload(ctx, r.ID(), name, "amd64/generic", digest.Of(data), int64(len(data))); err == nil {
		t.Errorf("an upload row of %s is left", name)
	}
	hex := digest.Of(data).String()
	for _, p := range []string{filepath.Join(r.Storage, hex), filepath.Join(r.Storage, ".partial", hex)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists", p)
		}
	}
}

// TestUploadRefused: wrong bytes, more bytes than declared, a chunk at the
// wrong offset, bad declarations and a full disk are refused with a
// message naming the problem and the fix, and nothing is stored.
func TestUploadRefused(t *testing.T) {
	r := regiontest.StartRegion(t, regiontest.Options{})
	data := randomBytes(1, 3<<20)

	// Wrong bytes: the sha256 declared is not that of the bytes sent.
	in := declare("wrong", data)
	in.SHA256 = digest.Of([]byte("something else"))
	code, u, msg := startUpload(t, r, in)
	if code != http.StatusOK {
		t.Fatalf("start: %d %s", code, msg)
	}
	code, msg = putChunk(t, r, u.ID, 0, data)
	if code != http.StatusUnprocessableEntity || !strings.Contains(msg, "wrong bytes") || !strings.Contains(msg, "upload it again") {
		t.Errorf("wrong bytes: %d %q", code, msg)
	}
	assertNothingStored(t, r, "custom/wrong", data)
	if _, err := os.Stat(filepath.Join(r.Storage, ".partial", in.SHA256.String())); err == nil {
		t.Error("the partial file of the wrong upload is left")
	}

	// Size mismatch: more bytes than declared.
	in = declare("toolong", data[:1<<20])
	code, u, msg = startUpload(t, r, in)
	if code != http.StatusOK {
		t.Fatalf("start: %d %s", code, msg)
	}
	code, msg = putChunk(t, r, u.ID, 0, data[:1<<20+10])
	if code != http.StatusUnprocessableEntity || !strings.Contains(msg, "size mismatch") || !strings.Contains(msg, "real size") {
		t.Errorf("size mismatch: %d %q", code, msg)
	}
	assertNothingStored(t, r, "custom/toolong", data[:1<<20])

	// A chunk at the wrong offset: 409 with the state.
	in = declare("offset", data)
	_, u, _ = startUpload(t, r, in)
	if code, msg := putChunk(t, r, u.ID, 0, data[:1<<20]); code != http.StatusOK {
		t.Fatalf("chunk: %d %s", code, msg)
	}
	code, msg = putChunk(t, r, u.ID, 5, data[5:1<<20])
	var got wire.Upload
	if code != http.StatusConflict || json.Unmarshal([]byte(msg), &got) != nil || got.Received != 1<<20 {
		t.Errorf("wrong offset: %d %q", code, msg)
	}
	if code, msg := apiCall(t, r, http.MethodDelete, wire.PathUploads+"/"+u.ID, "", nil); code != http.StatusNoContent {
		t.Errorf("abandon: %d %s", code, msg)
	}
	assertNothingStored(t, r, "custom/offset", data)

	// Bad declarations.
	for _, c := range []struct {
		in   wire.UploadStart
		want string
	}{
		{wire.UploadStart{Name: "a/b/c", Architecture: "amd64/generic", SHA256: in.SHA256, Size: 1}, "more than one '/'"},
		{wire.UploadStart{Name: "..", Architecture: "amd64/generic", SHA256: in.SHA256, Size: 1}, "dot component"},
		{wire.UploadStart{Name: "x", Architecture: "amd64", SHA256: in.SHA256, Size: 1}, "ARCH/SUBARCH"},
		{wire.UploadStart{Name: "x", Architecture: "amd64/generic", Filetype: "zip", SHA256: in.SHA256, Size: 1}, "use one of tgz, tbz"},
		{wire.UploadStart{Name: "x", Architecture: "amd64/generic", Size: 1}, "no sha256"},
		{wire.UploadStart{Name: "x", Architecture: "amd64/generic", SHA256: in.SHA256}, "size 0"},
	} {
		code, _, msg := startUpload(t, r, c.in)
		if code != http.StatusBadRequest || !strings.Contains(msg, c.want) {
			t.Errorf("%+v: %d %q, want 400 with %q", c.in, code, msg, c.want)
		}
	}

	metrics, _ := io.ReadAll(r.Get(t, wire.PathMetrics, nil).Body)
	for _, want := range []string{`bootfs_region_uploads_total{outcome="refused"} 2`, "bootfs_region_upload_received_bytes_total "} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Not enough disk: a region whose store is a small tmpfs.
	small := regiontest.StartRegion(t, regiontest.Options{Name: "small", Storage: filepath.Join(tmpfs.Mount(t, "8m"), "store")})
	big := randomBytes(2, 16<<20)
	code, _, msg = startUpload(t, small, declare("big", big))
	if code != http.StatusInsufficientStorage || !strings.Contains(msg, "free space") || !strings.Contains(msg, small.Storage) {
		t.Errorf("full disk: %d %q", code, msg)
	}
	assertNothingStored(t, small, "custom/big", big)
}

// TestUploadNewVersion: uploading a name again makes a new version; the
// old one stays in the tree until every region holds the new one, which
// then replaces it, and the old one is deleted after the cleanup grace.
func TestUploadNewVersion(t *testing.T) {
	rs := cluster(t, 2, nil, fastClaims)
	r1, r2 := rs[0], rs[1]
	ctx := context.Background()
	send := func(data []byte) upload.Result {
		t.Helper()
		cl := &upload.Client{Base: r1.URL(), Secret: r1.Secret, Chunk: 1 << 20}
		res, err := cl.Send(ctx, declare("img", data), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Done || res.Version == "" || res.Sent != int64(len(data)) {
			t.Fatalf("upload result %+v", res)
		}
		return res
	}
	v1 := randomBytes(11, 3<<20)
	res1 := send(v1)
	regiontest.Eventually(t, 30*time.Second, "version 1 in the tree", func() bool {
		e, ok := treeEntry(t, r1, uploadPath("img"))
		return ok && e.SHA256 == digest.Of(v1)
	})
	// The same file again is the same version, nothing sent.
	cl := &upload.Client{Base: r1.URL(), Secret: r1.Secret}
	if again, err := cl.Send(ctx, declare("img", v1), bytes.NewReader(v1)); err != nil || again.Version != res1.Version || again.Sent != 0 {
		t.Errorf("same upload again: %+v %v", again, err)
	}

	// r2 is down (but registered): version 2 is held back, version 1 served.
	storage2 := r2.Storage
	r2.Stop()
	v2 := randomBytes(12, 2<<20)
	res2 := send(v2)
	if res2.Version == res1.Version {
		t.Fatalf("second upload has version %s again", res2.Version)
	}
	time.Sleep(2 * time.Second) // syncs and cleanups run meanwhile
	if e, ok := treeEntry(t, r1, uploadPath("img")); !ok || e.SHA256 != digest.Of(v1) {
		t.Fatalf("while r2 lacks version 2 the tree shows %+v (%v), want version 1", e, ok)
	}

	// r2 back: it copies version 2, which replaces version 1 everywhere.
	regiontest.StartRegion(t, regiontest.Options{Name: "r2", DatabaseURL: r1.DBURL, SecretFile: r1.SecretFile, Storage: storage2, Config: fastClaims})
	regiontest.Eventually(t, 30*time.Second, "version 2 in the tree", func() bool {
		e, ok := treeEntry(t, r1, uploadPath("img"))
		return ok && e.SHA256 == digest.Of(v2)
	})
	regiontest.Eventually(t, 30*time.Second, "version 1 deleted after the grace", func() bool {
		_, err := r1.DB().BlobByName(ctx, digest.Of(v1).String())
		_, statErr := os.Stat(filepath.Join(r1.Storage, digest.Of(v1).String()))
		return err != nil && os.IsNotExist(statErr)
	})
}

// TestUploadNotRetired: removing every source retires what they imported,
// never an uploaded image (nothing selects it, and nothing has to).
func TestUploadNotRetired(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	r := regiontest.StartRegion(t, regiontest.Options{Config: func(c *region.Config) { c.SyncInterval = time.Second }})
	r.AddSource(t, m)
	ctx := context.Background()
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(5, 1<<20)
	cl := &upload.Client{Base: r.URL(), Secret: r.Secret}
	if _, err := cl.Send(ctx, declare("keep", data), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	regiontest.Eventually(t, 30*time.Second, "the upload in the tree", func() bool {
		_, ok := treeEntry(t, r, uploadPath("keep"))
		return ok
	})
	if err := r.DB().RemoveSource(ctx, m.URL); err != nil {
		t.Fatal(err)
	}
	if err := r.ImportNow(ctx); err != nil { // retires and cleans up
		t.Fatal(err)
	}
	regiontest.Eventually(t, 30*time.Second, "the imported images to leave the tree", func() bool {
		for _, e := range r.Tree(t).Files {
			if strings.HasPrefix(e.Path, "ubuntu/") {
				return false
			}
		}
		return true
	})
	if _, ok := treeEntry(t, r, uploadPath("keep")); !ok {
		t.Fatal("removing the sources retired the uploaded image")
	}
	// Even an uploaded set that names a source (none does today; an
	// import recording into the resource would) is not retired by it.
	if _, err := r.DB().Pool().Exec(ctx, `UPDATE boot_resource_set s SET source = $1 FROM boot_resource r
		WHERE r.id = s.resource_id AND r.name = 'custom/keep'`, m.URL); err != nil {
		t.Fatal(err)
	}
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	sets, err := r.DB().SourcedSets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets {
		if s.Name == "custom/keep" && s.Retired {
			t.Errorf("uploaded set %s %s retired", s.Name, s.Version)
		}
	}
	if _, ok := treeEntry(t, r, uploadPath("keep")); !ok {
		t.Fatal("the uploaded image left the tree")
	}
}

// cutBody yields n bytes of b, then fails: a client killed mid-chunk.
type cutBody struct {
	b []byte
	n int
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.n == 0 {
		return 0, io.ErrClosedPipe
	}
	k := copy(p, c.b[:min(len(c.b), c.n)])
	c.b, c.n = c.b[k:], c.n-k
	return k, nil
}

// TestUploadCutMidChunkResumes: a connection cut in the middle of a chunk
// keeps what arrived; the next declaration of the same upload says so, and
// the client sends only the rest.
func TestUploadCutMidChunkResumes(t *testing.T) {
	r := regiontest.StartRegion(t, regiontest.Options{})
	data := randomBytes(3, 5<<20+77)
	in := declare("cut", data)
	code, u, msg := startUpload(t, r, in)
	if code != http.StatusOK || u.Received != 0 {
		t.Fatalf("start: %d %s", code, msg)
	}
	req, _ := http.NewRequest(http.MethodPut, r.URL()+wire.PathUploads+"/"+u.ID+"?offset=0", &cutBody{b: data, n: 3<<20 + 5})
	req.ContentLength = int64(len(data))
	req.Header.Set("Authorization", "Bearer "+r.Secret)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the cut PUT answered %s", resp.Status)
	}
	if _, ok := treeEntry(t, r, uploadPath("cut")); ok {
		t.Fatal("the cut upload is in the tree")
	}
	var got wire.Upload
	regiontest.Eventually(t, 10*time.Second, "the region to count what arrived", func() bool {
		code, out := apiCall(t, r, http.MethodGet, wire.PathUploads+"/"+u.ID, "", nil)
		return code == http.StatusOK && json.Unmarshal(out, &got) == nil && got.Received == 3<<20+5
	})
	cl := &upload.Client{Base: r.URL(), Secret: r.Secret}
	res, err := cl.Send(context.Background(), in, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Done || res.ID != u.ID || res.Resumed != 3<<20+5 || res.Sent != int64(len(data))-res.Resumed {
		t.Fatalf("resumed upload: %+v", res)
	}
	regiontest.Eventually(t, 10*time.Second, "the upload in the tree", func() bool {
		e, ok := treeEntry(t, r, uploadPath("cut"))
		return ok && e.SHA256 == in.SHA256
	})

	// The same bytes under another name: the region has them, nothing is sent.
	res, err = cl.Send(context.Background(), declare("copy", data), bytes.NewReader(data))
	if err != nil || !res.Done || res.Sent != 0 || res.ID == "" {
		t.Fatalf("upload of bytes the region holds: %+v %v", res, err)
	}
	regiontest.Eventually(t, 10*time.Second, "the copy in the tree", func() bool {
		e, ok := treeEntry(t, r, uploadPath("copy"))
		return ok && e.SHA256 == in.SHA256
	})
}
