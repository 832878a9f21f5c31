package migrate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bootfs/bootfs/region/store"
)

// bigSize is the size of the large object of the kill test: a few hundred
// MB, as the issue asks, written and read in chunks.
const bigSize = 256 << 20

// The CLI is killed with SIGKILL while it writes the big object; the
// legacy database is untouched and no half file has a final name; a
// re-run resumes the partial file (it writes only the missing bytes) and
// finishes with everything verified.
func TestKillAndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bin := buildRegion(t)
	f := newFixture(t, false, bigSize)
	r := newRegion(t, "", "region1", "")
	dir := r.store.Dir()

	// The CLI's dry run prints the plan and changes nothing.
	out, err := exec.Command(bin, "migrate", "--dry-run", "--from-database", f.url, "--storage", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "fits") || !strings.Contains(string(out), f.big[:12]) {
		t.Fatalf("dry run: %v\n%s", err, out)
	}

	var log bytes.Buffer
	cmd := exec.Command(bin, "migrate", "--from-database", f.url, "--database-url", r.url, "--storage", dir,
		"--name", "region1", "--chunk-size", "32768", "--yes")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		exited <- nil
	})
	partial := filepath.Join(dir, ".partial", f.big)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the migration ended before it could be killed: %v\n%s", err, log.String())
		default:
		}
		if fi, err := os.Stat(partial); err == nil && fi.Size() >= 16<<20 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exited <- <-exited

	// Killed: the big object is a partial file only, the legacy database
	// holds everything still.
	fi, err := os.Stat(partial)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= bigSize || exists(t, filepath.Join(dir, f.big)) {
		t.Fatalf("after the kill the partial has %d of %d bytes; final name present: %v",
			fi.Size(), bigSize, exists(t, filepath.Join(dir, f.big)))
	}
	if lfs, objs, attached := f.counts(); lfs != f.largefiles || objs != f.largefiles || attached != int64(f.files) {
		t.Fatalf("legacy database changed by the killed run: %d largefiles, %d objects, %d attached", lfs, objs, attached)
	}
	final, _ := blobNames(t, dir)
	var want int64 = 200_000 - fi.Size() // the corrupt one is read again; the partial is not
	for sha, size := range f.good {
		if !exists(t, filepath.Join(dir, sha)) {
			want += size
		}
	}

	// Re-run (in-process, a fresh store handle): resume and finish.
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r.store = st
	rep, err := Run(ctx, r.options(f.url))
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if rep.Skipped != len(final) || rep.Migrated != len(f.good)-len(final) || rep.Bytes != want {
		t.Errorf("re-run: skipped %d, migrated %d, wrote %d bytes; want %d, %d, %d (resuming at %d)",
			rep.Skipped, rep.Migrated, rep.Bytes, len(final), len(f.good)-len(final), want, fi.Size())
	}
	verifyMigrated(t, f, r)

	// The CLI again: everything verified is gone, the unverified
	// largefiles are kept and reported; nothing more is copied or deleted.
	out, err = exec.Command(bin, "migrate", "--from-database", f.url, "--database-url", r.url, "--storage", dir,
		"--name", "region1", "--yes").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "migrated 0 contents, 0 already on disk") ||
		!strings.Contains(string(out), fmt.Sprintf("kept %d largefiles", len(f.kept))) {
		t.Errorf("CLI after the migration: %v\n%s", err, out)
	}
	verifyMigrated(t, f, r)
}
