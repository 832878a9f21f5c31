package console

// Browser tests of the console actions whose API endpoints are built in
// parallel branches (wire.PathImportStop, wire.PathImages DELETE,
// wire.PathUploads). They follow the contract in internal/wire and pass
// once those endpoints are merged; until then the region answers 404 and
// they fail saying so.

import (
	"archive/tar"
	"compress/gzip"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
)

// TestStopImport: an operator stops a running (throttled) import with the
// button; it ends as "stopped" in the history.
func TestStopImport(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	m.BytesPerSec.Store(max(mirrorBytes(t, m)/60, 32<<10)) // a minute or more
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	ctx := newBrowser(t, 1280, 900)
	login(t, ctx, r)
	click(t, ctx, "#start-import")
	waitFor(t, ctx, "#flash")
	until(t, 30*time.Second, "the import to run", func() bool { return status(t, r).Import.State == "running" })
	// The live update enables the stop button.
	until(t, 10*time.Second, "Stop import enabled", func() bool {
		return eval[bool](t, ctx, `!document.getElementById("stop-import").disabled`)
	})
	click(t, ctx, "#stop-import")
	until(t, 10*time.Second, "the answer to Stop import", func() bool { return text(t, ctx, "#flash") != "Import started." })
	if got := text(t, ctx, "#flash"); got != "Import stopping." {
		t.Fatalf("flash after Stop import: %q (the region must serve POST %s)", got, wire.PathImportStop)
	}
	until(t, 30*time.Second, "the import to stop", func() bool { return status(t, r).Import.State != "running" })
	until(t, 10*time.Second, "a stopped import in the history on the page", func() bool {
		return strings.Contains(text(t, ctx, "#history"), "stopped")
	})
}

// TestDeleteImage: an operator deletes an image (confirming the dialog);
// it leaves the page and the tree.
func TestDeleteImage(t *testing.T) {
	r, _ := importedRegion(t)
	ctx := newBrowser(t, 1280, 900)
	login(t, ctx, r)
	const name, arch = "ubuntu/jammy", "amd64/ga-22.04"
	eval[bool](t, ctx, `(window.confirm = () => true, true)`)
	sel := `form[action="/console/images/delete"]:has(input[name=name][value="` + name + `"]):has(input[name=architecture][value="` + arch + `"])`
	click(t, ctx, sel+` input[name=deselect]`) // an upstream image a selection still picks
	click(t, ctx, sel+` button`)
	waitFor(t, ctx, "#flash")
	if got := text(t, ctx, "#flash"); got != "Deleted "+name+" "+arch+"." {
		t.Fatalf("flash after Delete: %q (the region must serve DELETE %s)", got, wire.PathImages)
	}
	until(t, 10*time.Second, "the jammy kernel out of the tree", func() bool {
		for _, e := range r.Tree(t).Files {
			if strings.HasPrefix(e.Path, "ubuntu/amd64/ga-22.04/jammy/") {
				return false
			}
		}
		return true
	})
	until(t, 10*time.Second, "the image offered no more on the page", func() bool {
		for _, row := range eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#images tbody tr")).map(r => r.innerText)`) {
			if strings.Contains(row, arch) && strings.Contains(row, "offered") && !strings.Contains(row, "deleted") {
				return false
			}
		}
		return true
	})
}

// TestUploadWithProgress: an operator uploads a custom image from the
// browser; the progress bar moves through the pieces and the image shows
// up as uploaded.
func TestUploadWithProgress(t *testing.T) {
	r := regiontest.StartRegion(t, regiontest.Options{})
	ctx := newBrowser(t, 1280, 900)
	login(t, ctx, r)
	file := writeTgz(t, 20<<20+12345) // three 8 MiB pieces
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`#upload input[name=name]`), "custom/console-test"),
		chromedp.SetValue(chromedp.CSS(`#upload input[name=architecture]`), "amd64/generic"),
		chromedp.SetValue(chromedp.CSS(`#upload select[name=filetype]`), "tgz"),
		chromedp.SendKeys(chromedp.CSS(`#upload input[name=base_image]`), "ubuntu/noble"),
		chromedp.SetUploadFiles(chromedp.CSS(`#upload input[type=file]`), []string{file}),
	)
	recordProgress(t, ctx, "upload-progress")
	do(t, ctx, chromedp.Click(chromedp.CSS(`#upload button[type=submit]`)))
	var final string
	until(t, 2*time.Minute, "the upload to end", func() bool {
		final = eval[string](t, ctx, `document.getElementById("upload-status").textContent`)
		return final != "" && !strings.HasPrefix(final, "Hashing") && !strings.HasPrefix(final, "Sending")
	})
	if !strings.Contains(final, "Uploaded and verified") {
		t.Fatalf("upload ended with %q (the region must serve %s)", final, wire.PathUploads)
	}
	seen := seenProgress(t, ctx, "upload-progress")
	partial := 0
	for _, v := range seen {
		if v[0] > 0 && v[0] < v[1] {
			partial++
		}
	}
	if partial < 2 {
		t.Errorf("upload progress took %d in-between values (%v), want it to move", partial, seen)
	}
	until(t, 20*time.Second, "the uploaded image on the page", func() bool {
		return strings.Contains(text(t, ctx, "#images"), "custom/console-test")
	})
	if got := text(t, ctx, "#images"); !strings.Contains(got, "uploaded") {
		t.Errorf("images table %q does not show the origin uploaded", got)
	}
	screenshot(t, ctx, "upload", false)
}

// writeTgz writes a real gzipped tar (a root file system image as MAAS
// takes it, with one file of n random bytes, so about n bytes) and
// returns its path.
func writeTgz(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "root.tgz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if err := tw.WriteHeader(&tar.Header{Name: "random.bin", Mode: 0o644, Size: int64(n), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(b); err != nil {
		t.Fatal(err)
	}
	for _, c := range []interface{ Close() error }{tw, zw, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
