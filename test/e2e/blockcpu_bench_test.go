//go:build bench

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/reader"
	"github.com/jackc/pgx/v5"
)

// TestBenchBlockDigestCPU (issue #15) measures the rack's CPU (utime+stime
// of the bootfs daemon) per GiB read cold through a fresh mount, for a
// file with BLAKE3 block digests (what regions record at ingest) and for
// one of about the same size with SHA-256 block digests only (a file
// stored by an earlier release, not converted yet), alternating between
// the two in one run; and, for each, against the CPU of
// `curl URL | openssl dgst -sha256` on the same bytes from the same region.
// scripts/bench-rack.sh runs it.
func TestBenchBlockDigestCPU(t *testing.T) {
	requireRoot(t)
	g := &rig{repo: moduleRoot(t), quiet: true}
	bin := filepath.Join(t.TempDir(), "bootfs")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/bootfs")
	cmd.Dir = g.repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	g.bin = bin
	g.mirror = regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.7, Releases: []string{"jammy", "noble"}})
	r := regiontest.StartRegion(t, regiontest.Options{Name: "region1", DatabaseURL: pgtest.NewDatabase(t)})
	r.AddSource(t, g.mirror)
	ctx := context.Background()
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	g.regions[0], g.regions[1], g.secretFile = r, r, r.SecretFile
	g.tree = r.Tree(t)
	// The two largest distinct files (a path per sha256: several paths may
	// share one): the second gets SHA-256 block digests only.
	var a, b wire.Entry
	for _, e := range g.tree.Files {
		switch {
		case e.SHA256 == a.SHA256 || e.SHA256 == b.SHA256:
		case e.Size > a.Size:
			a, b = e, a
		case e.Size > b.Size:
			b = e
		}
	}
	data, err := os.ReadFile(filepath.Join(r.Storage, b.SHA256.String()))
	if err != nil {
		t.Fatal(err)
	}
	h := digest.NewHasherOf(digest.SHA256, digest.BlockSize)
	h.Write(data)
	_, blocks := h.Sum()
	data = nil
	conn, err := pgx.Connect(ctx, r.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE blob SET block_blake3 = NULL, block_size = $2, block_digests = $3 WHERE sha256 = $1`,
		b.SHA256.String(), digest.BlockSize, digest.EncodeBlocks(blocks)); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		algo string
		e    wire.Entry
	}{{digest.BLAKE3, a}, {digest.SHA256, b}}
	const rounds = 3
	rack := map[string][]float64{}
	curl := map[string][]float64{}
	for i := range rounds {
		for _, f := range files {
			local := filepath.Join(r.Storage, f.e.SHA256.String())
			readAll(t, local) // the region serves from the page cache
			gib := float64(f.e.Size) / (1 << 30)
			curl[f.algo] = append(curl[f.algo], curlOpensslCPU(t, r, f.e.SHA256)/gib)
			m := g.mount(t, mountSpec{source: r.URL()})
			pid := daemonPID(m.dir)
			stop := perfRecord(t, pid, fmt.Sprintf("%s-%d", f.algo, i+1))
			before := procCPU(t, pid)
			if _, n := readAll(t, m.path(f.e.Path)); n != f.e.Size {
				t.Fatalf("read %d of %d bytes", n, f.e.Size)
			}
			cpu := procCPU(t, pid) - before
			stop()
			var saved wire.BlockDigests
			h := f.e.SHA256.String()
			if err := reader.LoadState(filepath.Join(m.cacheDir, "digests", h[:2], h), &saved, 64<<20); err != nil || saved.Algorithm != f.algo {
				t.Fatalf("the rack checked %s with %q block digests (%v), want %s", f.e.Path, saved.Algorithm, err, f.algo)
			}
			rack[f.algo] = append(rack[f.algo], cpu/gib)
			t.Logf("round %d, %s block digests, %.2f GiB: bootfs %.2f core-s/GiB, curl | openssl dgst -sha256 %.2f core-s/GiB",
				i+1, f.algo, gib, cpu/gib, curl[f.algo][i])
			m.unmount(t)
			os.RemoveAll(m.cacheDir)
		}
	}
	med := func(xs []float64) float64 {
		ds := make([]time.Duration, len(xs))
		for i, x := range xs {
			ds[i] = time.Duration(x * float64(time.Second))
		}
		return median(ds).Seconds()
	}
	var out strings.Builder
	out.WriteString("\nrack CPU per cold GiB by block digest algorithm (median of 3, alternating)\n\n")
	out.WriteString("| measure | bootfs | baseline | ratio | target |\n|---|---|---|---|---|\n")
	b3, s2 := med(rack[digest.BLAKE3]), med(rack[digest.SHA256])
	fmt.Fprintf(&out, "| rack CPU per cold GiB, BLAKE3 block digests (%.2f GiB) | %.2f core-s | SHA-256 block digests (%.2f GiB) %.2f core-s | %.2f | <= 1.0 core-s |\n",
		float64(a.Size)/(1<<30), b3, float64(b.Size)/(1<<30), s2, b3/s2)
	for _, f := range files {
		rk, cu := med(rack[f.algo]), med(curl[f.algo])
		fmt.Fprintf(&out, "| the same ÷ `curl \\| openssl dgst -sha256`, %s block digests | %.2f core-s | %.2f core-s | %.2f | <= 0.5 |\n", f.algo, rk, cu, rk/cu)
	}
	fmt.Print(out.String())
}

// perfRecord, if $BOOTFS_BENCH_PERF names a directory, runs `perf record
// -g` on process pid (the whole system when pid is 0) into DIR/name.data until the returned function is
// called (then `perf report -i DIR/name.data` shows where bootfs spent
// its CPU).
func perfRecord(t *testing.T, pid int, name string) func() {
	dir := os.Getenv("BOOTFS_BENCH_PERF")
	if dir == "" {
		return func() {}
	}
	target := []string{"-p", strconv.Itoa(pid)}
	if pid == 0 {
		target = []string{"-a"}
	}
	cmd := exec.Command("perf", append(append([]string{"record", "-g", "-F", "999"}, target...), "-o", filepath.Join(dir, name+".data"))...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("perf record: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // perf attaches
	return func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
}

// procCPU returns utime+stime of process pid, in seconds.
func procCPU(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("bootfs daemon: %v", err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64) // fields 14 and 15 of stat(5)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// curlOpensslCPU runs `curl URL | openssl dgst -sha256` on blob d of r and
// returns the CPU (user+system) of the pipeline, in seconds.
func curlOpensslCPU(t *testing.T, r *regiontest.Region, d digest.Digest) float64 {
	t.Helper()
	cmd := exec.Command("sh", "-c", `curl -sS -H "Authorization: Bearer $SECRET" "$URL" | openssl dgst -sha256`)
	cmd.Env = append(os.Environ(), "SECRET="+r.Secret, "URL="+r.URL()+wire.PathBlobs+d.String())
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), d.String()) {
		t.Fatalf("curl | openssl: %v: %s", err, out)
	}
	// The shell's rusage includes the children it waited for.
	return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
}
