package region_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
)

// buildRegion builds the bootfs-region binary for tests that need a real
// process (to kill it).
func buildRegion(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootfs-region")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/bootfs/bootfs/cmd/bootfs-region")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build bootfs-region: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestKill9DuringImport(t *testing.T) {
	bin := buildRegion(t)
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.02}) // squashfs ~18 MB
	m.BytesPerSec.Store(3 << 20)
	dbURL := pgtest.NewDatabase(t)
	ctx := context.Background()
	storage := filepath.Join(t.TempDir(), "store")
	secret := filepath.Join(t.TempDir(), "secret")
	mustWrite(t, secret, "s3cret\n")
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--database-url", dbURL, "--storage", storage, "--secret-file", secret,
			"--listen", "127.0.0.1:"+strconv.Itoa(port), "--name", "r1", "--import-on-start", "--import-interval", "0",
			"--verify-rate", "0")
		logf, err := os.Create(filepath.Join(t.TempDir(), "region.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		return cmd
	}
	// The first start migrates the schema; then add the source.
	first := start()
	regiontest.Eventually(t, 30*time.Second, "region to answer", func() bool {
		resp, err := http.Get(base + wire.PathHealth)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	d, err := db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	key, _ := os.ReadFile(m.KeyringPath)
	if _, err := d.AddSource(ctx, db.Source{URL: m.URL, Keyring: key, Selections: []db.Selection{{OS: "*", Release: "*"}}}); err != nil {
		t.Fatal(err)
	}
	// Ask for an import and kill -9 once a big file is partly written.
	post(t, base+wire.PathImport, "s3cret")
	var partial string
	regiontest.Eventually(t, 60*time.Second, "a partial download over 2 MB", func() bool {
		ents, _ := os.ReadDir(filepath.Join(storage, ".partial"))
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.Size() > 2<<20 {
				partial = e.Name()
				return true
			}
		}
		return false
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = first.Process.Wait()
	if _, err := os.Stat(filepath.Join(storage, partial)); err == nil {
		t.Fatal("a partial download has its final name")
	}
	m.BytesPerSec.Store(0)
	rangesBefore := m.RangeRequests.Load()

	start() // --import-on-start resumes the work
	regiontest.Eventually(t, 90*time.Second, "the import to finish after restart", func() bool {
		var st wire.ImportStatus
		req, _ := http.NewRequest("GET", base+wire.PathImport, nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&st) != nil {
			return false
		}
		if st.State == "failed" {
			t.Fatalf("import after restart failed: %s", st.Error)
		}
		return st.State == "done"
	})
	if n := assertStoreVerified(t, storage); n < 10 {
		t.Errorf("only %d files stored", n)
	}
	if _, err := os.Stat(filepath.Join(storage, partial)); err != nil {
		t.Errorf("the interrupted file %s is not stored: %v", partial, err)
	}
	if m.RangeRequests.Load() == rangesBefore {
		t.Error("the interrupted download was not resumed with a Range request")
	}
}

func post(t *testing.T, url, secret string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}
