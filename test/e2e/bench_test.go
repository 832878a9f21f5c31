//go:build bench

package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
)

// Files the benchmarks read (dev mirror at scale 1.3: jammy's squashfs is
// about 1.1 GiB, bionic's about 0.7 GiB; all files together about 4.3 GiB,
// more than the default 4 GiB cache).
const (
	benchScale  = 1.3
	benchBig    = "ubuntu/amd64/ga-22.04/jammy/stable/squashfs"
	benchShared = "ubuntu/amd64/ga-18.04/bionic/stable/squashfs"
	benchKernel = "ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel"
)

// TestBench measures the rack against its baselines, side by side in one
// run, and prints a table (scripts/bench-rack.sh runs it). It is built only
// with -tags bench (it writes about 14 GB and takes a few minutes), so it
// is part of `make bench`, not of `make test`.
func TestBench(t *testing.T) {
	requireRoot(t)
	g := newBenchRig(t)
	var rows [][]string
	row := func(cols ...string) {
		rows = append(rows, cols)
		t.Logf("%s", strings.Join(cols, " | "))
	}
	// BOOTFS_BENCH_BASELINE_BIN names another bootfs binary (e.g. built
	// from main): every benchmark then runs for it and for this tree's
	// bootfs, alternately, BOOTFS_BENCH_ROUNDS times (default 1), in the
	// same rig, each row labelled with the binary it measured.
	type binary struct{ label, path string }
	bins := []binary{{"", g.bin}}
	if base := os.Getenv("BOOTFS_BENCH_BASELINE_BIN"); base != "" {
		bins = []binary{{"[baseline] ", base}, {"[this] ", g.bin}}
	}
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("BOOTFS_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	// BOOTFS_BENCH unset or "1" runs everything; a list (e.g. "cold,rss") some.
	for _, b := range []struct {
		name string
		run  func(*testing.T, func(...string))
	}{
		{"cold", g.benchColdRead}, {"cpu", g.benchColdCPU}, {"link", g.benchColdOverLink}, {"readers", g.benchConcurrentReaders},
		{"tftp", g.benchTFTP}, {"rss", g.benchFullCacheRSS},
	} {
		if sel := os.Getenv("BOOTFS_BENCH"); sel == "" || sel == "1" || slices.Contains(strings.Split(sel, ","), b.name) {
			for round := range rounds {
				for _, bin := range bins {
					g.bin = bin.path
					label := bin.label
					if rounds > 1 {
						label = fmt.Sprintf("%s(round %d) ", label, round+1)
					}
					b.run(t, func(cols ...string) {
						cols[0] = label + cols[0]
						row(cols...)
					})
				}
			}
		}
	}
	g.bin = bins[len(bins)-1].path

	var b strings.Builder
	fmt.Fprintf(&b, "\nrack benchmarks, %s, %d CPUs, %s, %s\n\n", hostInfo(), runtime.NumCPU(), kernelRelease(), time.Now().UTC().Format(time.RFC3339))
	b.WriteString("| measure | bootfs | baseline | ratio | target |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	fmt.Print(b.String())
}

// newBenchRig is a rig with one region holding a large synthetic mirror
// (bootloaders real, images synthetic) and a bootfs built without -race.
func newBenchRig(t *testing.T) *rig {
	t.Helper()
	g := &rig{repo: moduleRoot(t), quiet: true}
	bin := filepath.Join(t.TempDir(), "bootfs")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/bootfs")
	cmd.Dir = g.repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	g.bin = bin
	start := time.Now()
	g.mirror = regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: benchScale,
		Releases: []string{"bionic", "focal", "jammy", "noble"}})
	r := regiontest.StartRegion(t, regiontest.Options{Name: "region1", DatabaseURL: pgtest.NewDatabase(t)})
	r.AddSource(t, g.mirror)
	if err := r.ImportNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.regions[0], g.regions[1] = r, r
	g.secretFile = r.SecretFile
	g.tree = r.Tree(t)
	t.Logf("bench rig: %d files, %.1f GiB, ready in %s", len(g.tree.Files), float64(g.mirror.Bytes)/(1<<30), time.Since(start).Round(time.Second))
	return g
}

// readAll opens path, reads it sequentially with 1 MiB reads and returns
// the time, the open included (where a passthrough open checks the file).
func readAll(t *testing.T, path string) (time.Duration, int64) {
	t.Helper()
	buf := make([]byte, 1<<20)
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A plain read loop: io.Copy into io.Discard would use Discard's own
	// 8 KiB buffer instead of buf.
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
	}
	return time.Since(start), n
}

// curlTime downloads a blob from the region with curl and returns the time.
func (g *rig) curlTime(t *testing.T, sha digest.Digest) time.Duration {
	t.Helper()
	out, err := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{time_total} %{size_download}",
		"-H", "Authorization: Bearer "+g.regions[0].Secret, g.regions[0].URL()+wire.PathBlobs+sha.String()).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	f := strings.Fields(string(out))
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(secs * float64(time.Second))
}

func mbps(n int64, d time.Duration) string {
	return fmt.Sprintf("%.0f MB/s", float64(n)/d.Seconds()/1e6)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchColdRead: a cold sequential read of a ~1.1 GiB file through a fresh
// mount against curl of the same file from the same region; then, after a
// remount (the mount's page cache gone), the read from the rack's disk
// cache against reading the region's local copy of the file.
func (g *rig) benchColdRead(t *testing.T, row func(...string)) {
	e := g.mustEntry(t, benchBig)
	local := filepath.Join(g.regions[0].Storage, e.SHA256.String())
	readAll(t, local) // the region serves from the page cache; so does the baseline
	var cold, curl []time.Duration
	var last *bootfsMount
	for i := range 3 {
		curl = append(curl, g.curlTime(t, e.SHA256))
		m := g.mount(t, mountSpec{source: g.regions[0].URL()})
		d, n := readAll(t, m.path(benchBig))
		if n != e.Size {
			t.Fatalf("read %d of %d bytes", n, e.Size)
		}
		cold = append(cold, d)
		if i < 2 {
			m.unmount(t)
			os.RemoveAll(m.cacheDir)
		}
		last = m
	}
	c, k := median(cold), median(curl)
	row(fmt.Sprintf("cold sequential read, %.2f GiB (median of 3)", float64(e.Size)/(1<<30)),
		fmt.Sprintf("%s (%s)", c.Round(time.Millisecond), mbps(e.Size, c)),
		fmt.Sprintf("curl from the region %s (%s)", k.Round(time.Millisecond), mbps(e.Size, k)),
		fmt.Sprintf("%.2f", k.Seconds()/c.Seconds()), ">= 0.9")

	last.unmount(t)
	// After a remount the file is wholly cached: its first open checks the
	// CRCs of every chunk (nothing is trusted after a restart) and hands
	// the kernel the cache's file (FUSE passthrough); a second open in the
	// same mount skips the check. no_passthrough reads through bootfs.
	var warm, again, nopt, loc []time.Duration
	for range 3 {
		m := g.mount(t, mountSpec{source: g.regions[0].URL(), cacheDir: last.cacheDir})
		d, _ := readAll(t, m.path(benchBig))
		warm = append(warm, d)
		d, _ = readAll(t, m.path(benchBig))
		again = append(again, d)
		if st := m.status(t); st.Reads.Fetches != 0 || st.Cache.Passthrough != 2 {
			t.Errorf("warm reads: %d blocks fetched, %d passthrough opens (want 2)", st.Reads.Fetches, st.Cache.Passthrough)
		}
		m.unmount(t)
		m = g.mount(t, mountSpec{source: g.regions[0].URL(), cacheDir: last.cacheDir, opts: []string{"no_passthrough"}})
		d, _ = readAll(t, m.path(benchBig))
		nopt = append(nopt, d)
		m.unmount(t)
		d, _ = readAll(t, local)
		loc = append(loc, d)
	}
	l := median(loc)
	for _, r := range []struct {
		name string
		ds   []time.Duration
	}{
		{"warm read from the disk cache after a remount: first open (checks the file, then passthrough; median of 3)", warm},
		{"warm read, second open in the same mount (passthrough)", again},
		{"warm read after a remount with no_passthrough (through bootfs)", nopt},
	} {
		w := median(r.ds)
		row(r.name, fmt.Sprintf("%s (%s)", w.Round(time.Millisecond), mbps(e.Size, w)),
			fmt.Sprintf("local file %s (%s)", l.Round(time.Millisecond), mbps(e.Size, l)),
			fmt.Sprintf("%.2f", l.Seconds()/w.Seconds()), ">= 0.8")
	}
	os.RemoveAll(last.cacheDir)
}

// benchColdCPU: the CPU time (user+system) the bootfs process spends on a
// cold sequential read of a ~1.1 GiB file from the region on loopback,
// per GiB, against the CPU time of `curl | openssl dgst -sha256` fetching
// and hashing the same bytes from the same region (median of 3 each,
// alternating). With BOOTFS_BENCH_PROFILES set, a CPU profile of bootfs
// during the last cold read is written there.
func (g *rig) benchColdCPU(t *testing.T, row func(...string)) {
	e := g.mustEntry(t, benchBig)
	gib := float64(e.Size) / (1 << 30)
	local := filepath.Join(g.regions[0].Storage, e.SHA256.String())
	readAll(t, local)
	profiles := os.Getenv("BOOTFS_BENCH_PROFILES")
	var bootfsCPU, curlCPU []time.Duration
	for i := range 3 {
		cmd := exec.Command("sh", "-c", `curl -sS -H "Authorization: Bearer $SECRET" "$URL" | openssl dgst -sha256 >/dev/null`)
		cmd.Env = append(os.Environ(), "SECRET="+g.regions[0].Secret, "URL="+g.regions[0].URL()+wire.PathBlobs+e.SHA256.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("curl | openssl: %v\n%s", err, out)
		}
		curlCPU = append(curlCPU, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())

		spec := mountSpec{source: g.regions[0].URL()}
		if profiles != "" && i == 2 {
			spec.opts = []string{"metrics=127.0.0.1:0"}
		}
		m := g.mount(t, spec)
		pid := daemonPID(m.dir)
		var prof []byte
		var wg sync.WaitGroup
		if len(spec.opts) > 0 {
			addr := m.status(t).Metrics
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, prof = httpGet(t, "http://"+addr+"/debug/pprof/profile?seconds=4", "")
			}()
		}
		stop := perfRecord(t, pid, fmt.Sprintf("cold-cpu-%d", i+1))
		before := processCPU(t, pid)
		if _, n := readAll(t, m.path(benchBig)); n != e.Size {
			t.Fatalf("read %d of %d bytes", n, e.Size)
		}
		bootfsCPU = append(bootfsCPU, processCPU(t, pid)-before)
		stop()
		wg.Wait()
		if prof != nil {
			os.WriteFile(filepath.Join(profiles, fmt.Sprintf("bootfs-cold-cpu-%d.pprof", time.Now().Unix())), prof, 0o644)
		}
		m.unmount(t)
		os.RemoveAll(m.cacheDir)
	}
	b, c := median(bootfsCPU).Seconds()/gib, median(curlCPU).Seconds()/gib
	row(fmt.Sprintf("rack CPU (utime+stime of bootfs) per cold GiB, %.2f GiB from the region on loopback (median of 3)", gib),
		fmt.Sprintf("%.2f core-s", b), fmt.Sprintf("curl | openssl dgst -sha256 %.2f core-s", c),
		fmt.Sprintf("%.2f", b/c), "<= 1.0 core-s; ratio <= 0.5")
}

// processCPU returns the user+system CPU time process pid has used
// (/proc/PID/stat, in clock ticks of 10 ms).
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+2:]))
	// Fields after the command: state is f[0]; utime and stime are the
	// 14th and 15th fields of the line, f[11] and f[12].
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("parsing /proc/%d/stat: %q", pid, b)
	}
	return time.Duration(u+s) * 10 * time.Millisecond
}

// benchConcurrentReaders: 100 concurrent cold readers of one file against
// one reader alone: the bytes the region sent, and the wall time.
func (g *rig) benchConcurrentReaders(t *testing.T, row func(...string)) {
	e := g.mustEntry(t, benchShared)
	profiles := os.Getenv("BOOTFS_BENCH_PROFILES")
	readers := func(n int) (time.Duration, int64) {
		spec := mountSpec{source: g.regions[0].URL()}
		if profiles != "" && n > 1 {
			spec.opts = []string{"metrics=127.0.0.1:0"}
		}
		m := g.mount(t, spec)
		before := g.regionBlobBytes(t, 0)
		var wg, pwg sync.WaitGroup
		defer pwg.Wait()
		if len(spec.opts) > 0 {
			// A CPU profile of bootfs while the readers run.
			addr := m.status(t).Metrics
			pwg.Add(1)
			go func() {
				defer pwg.Done()
				_, _, prof := httpGet(t, "http://"+addr+"/debug/pprof/profile?seconds=4", "")
				os.WriteFile(filepath.Join(profiles, fmt.Sprintf("bootfs-readers-cpu-%d.pprof", time.Now().Unix())), prof, 0o644)
			}()
		}
		stop := func() {}
		if n > 1 {
			stop = perfRecord(t, 0, "readers")
		}
		start := time.Now()
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, got := readAll(t, m.path(benchShared)); got != e.Size {
					t.Errorf("read %d of %d bytes", got, e.Size)
				}
			}()
		}
		wg.Wait()
		d := time.Since(start)
		stop()
		sent := g.regionBlobBytes(t, 0) - before
		m.unmount(t)
		os.RemoveAll(m.cacheDir)
		return d, sent
	}
	one, _ := readers(1)
	many, sent := readers(100)
	// What 100 readers of a local file in the page cache take here: the
	// readers' own copying, the floor for any file system.
	local := filepath.Join(g.regions[0].Storage, e.SHA256.String())
	readAll(t, local)
	var wg sync.WaitGroup
	stopFloor := perfRecord(t, 0, "readers-floor")
	start := time.Now()
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			readAll(t, local)
		}()
	}
	wg.Wait()
	floor := time.Since(start)
	stopFloor()
	row(fmt.Sprintf("100 concurrent cold readers of one %.2f GiB file: region bytes / file size", float64(e.Size)/(1<<30)),
		fmt.Sprintf("%d bytes sent", sent), fmt.Sprintf("%d bytes", e.Size),
		fmt.Sprintf("%.3f", float64(sent)/float64(e.Size)), "<= 1.05")
	row("100 concurrent cold readers: wall time / one reader alone",
		many.Round(time.Millisecond).String(), "one reader "+one.Round(time.Millisecond).String(),
		fmt.Sprintf("%.2f", many.Seconds()/one.Seconds()), "<= 1.5")
	row("100 concurrent cold readers: wall time / 100 readers of a local file (page cache)",
		many.Round(time.Millisecond).String(), "local "+floor.Round(time.Millisecond).String(),
		fmt.Sprintf("%.2f", many.Seconds()/floor.Seconds()), "-")
}

// benchTFTP: tftpd-hpa serving a kernel from the mount (its blocks cached)
// against tftpd-hpa serving the same file from a local directory, 20
// concurrent pin/tftp clients with 1468-byte blocks, twice each.
func (g *rig) benchTFTP(t *testing.T, row func(...string)) {
	e := g.mustEntry(t, benchKernel)
	localDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(localDir, filepath.Dir(benchKernel)), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(g.regions[0].Storage, e.SHA256.String()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(localDir, benchKernel), data, 0o644); err != nil {
		t.Fatal(err)
	}
	m := g.mount(t, mountSpec{source: g.regions[0].URL()})
	readAll(t, m.path(benchKernel)) // cache it
	localAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	mountAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	startTFTPD(t, g, "", localDir, localAddr)
	startTFTPD(t, g, "", m.dir, mountAddr)
	waitTFTP(t, localAddr, benchKernel)
	waitTFTP(t, mountAddr, benchKernel)

	const clients = 20
	round := func(addr string) time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := tftpGet(addr, benchKernel, 1468)
				if err != nil || int64(len(b)) != e.Size {
					t.Errorf("tftp %s: %d bytes, %v", addr, len(b), err)
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	var loc, mnt []time.Duration
	for range 2 {
		loc = append(loc, round(localAddr))
		mnt = append(mnt, round(mountAddr))
	}
	l, w := slices.Min(loc), slices.Min(mnt)
	total := int64(clients) * e.Size
	row(fmt.Sprintf("tftpd-hpa, 20 concurrent clients x %.1f MiB (best of 2)", float64(e.Size)/(1<<20)),
		fmt.Sprintf("from the mount %s (%s)", w.Round(time.Millisecond), mbps(total, w)),
		fmt.Sprintf("local directory %s (%s)", l.Round(time.Millisecond), mbps(total, l)),
		fmt.Sprintf("%.2f", l.Seconds()/w.Seconds()), ">= 0.9")
}

// benchFullCacheRSS: the bootfs process's memory after every file of the
// tree (more than 4 GiB) was read through a mount with the default 4 GiB
// cache.
func (g *rig) benchFullCacheRSS(t *testing.T, row func(...string)) {
	m := g.mount(t, mountSpec{source: g.regions[0].URL(), opts: []string{"cache_size=4G", "metrics=127.0.0.1:0"}})
	var total int64
	seen := map[digest.Digest]bool{}
	for _, f := range g.tree.Files {
		if seen[f.SHA256] {
			continue
		}
		seen[f.SHA256] = true
		_, n := readAll(t, m.path(f.Path))
		total += n
	}
	st := m.status(t)
	pid := daemonPID(m.dir)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	field := func(name string) string {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, name+":"); ok {
				return strings.TrimSpace(v)
			}
		}
		return "?"
	}
	rss, _ := strconv.ParseInt(strings.TrimSuffix(field("VmRSS"), " kB"), 10, 64)
	hwm, _ := strconv.ParseInt(strings.TrimSuffix(field("VmHWM"), " kB"), 10, 64)
	if dir := os.Getenv("BOOTFS_BENCH_PROFILES"); dir != "" {
		_, _, heapProf := httpGet(t, "http://"+st.Metrics+"/debug/pprof/heap", "")
		os.WriteFile(filepath.Join(dir, "bootfs-heap.pprof"), heapProf, 0o644)
	}
	_, _, metrics := httpGet(t, "http://"+st.Metrics+"/metrics", "")
	heap := "?"
	for _, l := range strings.Split(string(metrics), "\n") {
		if v, ok := strings.CutPrefix(l, "go_memstats_heap_inuse_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			heap = fmt.Sprintf("%.1f MiB", f/(1<<20))
		}
	}
	row(fmt.Sprintf("bootfs RSS, cache full (%.2f of %.2f GiB used, %d evictions, %.2f GiB read)",
		float64(st.Cache.Used)/(1<<30), float64(st.Cache.Limit)/(1<<30), st.Cache.Evictions, float64(total)/(1<<30)),
		fmt.Sprintf("RSS %.1f MiB (peak %.1f MiB, Go heap in use %s)", float64(rss)/1024, float64(hwm)/1024, heap), "-", "-", "<= 100 MiB")
	if st.Cache.Evictions == 0 {
		t.Errorf("the cache never filled: %+v", st.Cache)
	}
	os.RemoveAll(m.cacheDir)
}

func hostInfo() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}

func kernelRelease() string {
	out, _ := exec.Command("uname", "-r").Output()
	return "Linux " + strings.TrimSpace(string(out))
}
