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

// regionProc runs bootfs-region serve as a real process on a fixed port,
// so a test can kill -9 it and start it again.
type regionProc struct {
	t    *testing.T
	bin  string
	args []string
	base string
}

func newRegionProc(t *testing.T, bin string, args ...string) *regionProc {
	port := strconv.Itoa(freePort(t))
	return &regionProc{t: t, bin: bin, base: "http://127.0.0.1:" + port,
		args: append([]string{"serve", "--listen", "127.0.0.1:" + port, "--import-interval", "0", "--verify-rate", "0"}, args...)}
}

// start starts the process and waits until it answers.
func (p *regionProc) start() *exec.Cmd {
	t := p.t
	cmd := exec.Command(p.bin, p.args...)
	logf, err := os.Create(filepath.Join(t.TempDir(), "region.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	regiontest.Eventually(t, 30*time.Second, "the region to answer", func() bool {
		resp, err := http.Get(p.base + wire.PathHealth)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return cmd
}

// kill9 kills the process without warning.
func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = cmd.Process.Wait()
}

// addSource points the region database at a mirror.
func addSource(t *testing.T, dbURL string, m *regiontest.Mirror) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	key, _ := os.ReadFile(m.KeyringPath)
	if _, err := d.AddSource(ctx, db.Source{URL: m.URL, Keyring: key, Selections: []db.Selection{{OS: "*", Release: "*"}}}); err != nil {
		t.Fatal(err)
	}
	return d
}

// partialOver waits for a partial download bigger than n bytes in a store.
func partialOver(t *testing.T, storage string, n int64) string {
	t.Helper()
	var partial string
	regiontest.Eventually(t, 60*time.Second, "a partial download", func() bool {
		ents, _ := os.ReadDir(filepath.Join(storage, ".partial"))
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.Size() > n {
				partial = e.Name()
				return true
			}
		}
		return false
	})
	return partial
}

func TestKill9DuringImport(t *testing.T) {
	bin := buildRegion(t)
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.02}) // squashfs ~18 MB
	m.BytesPerSec.Store(3 << 20)
	dbURL := pgtest.NewDatabase(t)
	storage := filepath.Join(t.TempDir(), "store")
	secret := filepath.Join(t.TempDir(), "secret")
	mustWrite(t, secret, "s3cret\n")
	p := newRegionProc(t, bin, "--database-url", dbURL, "--storage", storage, "--secret-file", secret,
		"--name", "r1", "--import-on-start")
	first := p.start() // migrates the schema
	addSource(t, dbURL, m)
	// Ask for an import and kill -9 once a big file is partly written.
	post(t, p.base+wire.PathImport, "s3cret")
	partial := partialOver(t, storage, 2<<20)
	kill9(t, first)
	if _, err := os.Stat(filepath.Join(storage, partial)); err == nil {
		t.Fatal("a partial download has its final name")
	}
	m.BytesPerSec.Store(0)
	rangesBefore := m.RangeRequests.Load()

	p.start() // --import-on-start resumes the work
	regiontest.Eventually(t, 90*time.Second, "the import to finish after restart", func() bool {
		var st wire.ImportStatus
		req, _ := http.NewRequest("GET", p.base+wire.PathImport, nil)
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
