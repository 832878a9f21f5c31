package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/tmpfs"
	"github.com/bootfs/bootfs/internal/wire"
)

// Soak parameters.
const (
	soakRegions     = 3
	soakRacks       = 2
	soakReaders     = 4
	soakScale       = 0.01             // squashfs about 9 MiB, so reads cross many 1 MiB blocks
	soakStuckBound  = 60 * time.Second // no read may take longer
	soakRecoverMax  = 2 * time.Minute  // every fault must be recovered from within this
	soakCleanup     = 20 * time.Second // --cleanup-grace: old sets go this long after the new ones
	soakFDSlack     = 16               // allowed fd growth (also 25% of the start)
	soakGoSlack     = 40               // allowed goroutine growth (also 25% of the start)
	soakRegionDisk  = "256m"
	soakRackDisk    = "64m"
	soakRackCacheSz = "40M"
)

// TestSoak is the chaos soak of issue #14 (make soak): three regions
// (bootfs-region binaries on one PostgreSQL) behind stalling TCP proxies,
// two racks (bootfs binaries) each with the stock nginx in front, readers
// fetching random files and ranges through nginx and the mounts and
// checking every byte against the tree's sha256, while a seeded schedule
// kills and restarts regions and racks, fills and frees their disks, stalls
// regions and publishes new image versions (old ones are deleted by the
// regions' cleanup grace: there is no delete command). It runs only with
// BOOTFS_SOAK=<duration> (the length of the fault schedule);
// BOOTFS_SOAK_SEED=<n> replays a schedule.
func TestSoak(t *testing.T) {
	env := os.Getenv("BOOTFS_SOAK")
	if env == "" {
		t.Skip("the chaos soak runs only with BOOTFS_SOAK=<duration> (e.g. make soak, or BOOTFS_SOAK=2m)")
	}
	dur, err := time.ParseDuration(env)
	if err != nil || dur <= 0 {
		t.Fatalf("BOOTFS_SOAK=%q: want a positive duration such as 10m", env)
	}
	requireRoot(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("BOOTFS_SOAK_SEED"); v != "" {
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("BOOTFS_SOAK_SEED=%q: want an unsigned integer", v)
		}
	}
	t.Logf("soak: %s of faults, seed %d (replay with BOOTFS_SOAK_SEED=%d)", dur, seed, seed)

	s := newSoak(t, seed)
	s.setUp()
	s.warmUp()
	base := s.measure("start")

	ctx, stopReaders := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	for i := range soakReaders {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s.reader(ctx, i)
		}()
	}
	watchdogDone := make(chan struct{})
	go s.watchdog(ctx, watchdogDone)

	var convergence time.Duration
	finished := false
	defer func() {
		if !finished { // a t.Fatal: still check the logs and print what was seen
			stopReaders()
			s.checkLogs()
			s.summary(dur, seed, convergence, base, s.measure("end"))
		}
	}()

	s.schedule(dur)

	convStart := time.Now()
	s.converge()
	convergence = time.Since(convStart)

	stopReaders()
	if !waitGroupTimeout(&readers, soakStuckBound+30*time.Second) {
		t.Errorf("readers did not stop within %s of the end", soakStuckBound+30*time.Second)
	}
	<-watchdogDone
	s.finalPass()
	time.Sleep(5 * time.Second) // idle connections close
	end := s.measure("end")
	s.compareResources(base, end)
	s.checkLogs()
	s.summary(dur, seed, convergence, base, end)
	finished = true
}

type soak struct {
	t          *testing.T
	rng        *rand.Rand // the schedule's; used by the scheduler goroutine only
	seed       uint64
	started    time.Time
	repo, dir  string
	regionBin  string
	bootfsBin  string
	secret     string
	secretFile string
	dbURL      string
	mirror     *regiontest.Mirror
	mirrorOpts regiontest.MirrorOptions
	version    int
	regions    []*soakRegion
	racks      []*soakRack
	truthDir   string
	client     *http.Client
	rackd      *httptest.Server

	learnMu sync.Mutex
	mu      sync.Mutex
	known   map[string]map[digest.Digest]bool // tree path -> every sha256 it has had
	truth   map[digest.Digest]string          // sha256 -> verified copy in truthDir
	sizes   map[digest.Digest]int64
	latest  []wire.Entry // the newest tree seen, entries with a verified copy
	newest  string       // version of the newest publish

	stats       soakStats
	cleanup     string            // how old versions went, for the summary
	gens        map[string]string // region -> tree generation last seen (under mu)
	treeChanged atomic.Int64      // unix nanos of the last tree change seen
	phase       atomic.Value      // string: the fault active (until recovered), "" if none
}

type soakRegion struct {
	name    string
	proc    *soakProc
	listen  string // host:port the binary listens on (the test talks to it directly)
	proxy   *stallProxy
	storage string
}

func (r *soakRegion) direct() string { return "http://" + r.listen }

type soakRack struct {
	name    string
	proc    *soakProc
	mnt     string
	cache   string
	base    string // nginx
	metrics string
}

// soakStats is what the summary prints.
type soakStats struct {
	mu         sync.Mutex
	reads      map[string]int // by mode
	verified   int64          // bytes checked
	readErrs   map[string]int // by kind
	wrong      int
	stuck      int
	faults     map[string]int
	recoveries map[string][]time.Duration
	publishes  []string // "version: time to available"
	samples    []string // the first failed reads with no fault active
}

func newSoak(t *testing.T, seed uint64) *soak {
	s := &soak{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		repo: moduleRoot(t), dir: t.TempDir(), known: make(map[string]map[digest.Digest]bool),
		truth: make(map[digest.Digest]string), sizes: make(map[digest.Digest]int64),
		client: &http.Client{Timeout: soakStuckBound + 30*time.Second}}
	s.stats.reads = make(map[string]int)
	s.stats.readErrs = make(map[string]int)
	s.stats.faults = make(map[string]int)
	s.stats.recoveries = make(map[string][]time.Duration)
	s.truthDir = filepath.Join(s.dir, "truth")
	if err := os.MkdirAll(s.truthDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *soak) logf(format string, args ...any) {
	s.t.Helper()
	s.t.Logf("soak %7s: %s", time.Since(s.started).Round(100*time.Millisecond), fmt.Sprintf(format, args...))
}

// buildCmd builds ./cmd/name (with -race when the test has it).
func buildCmd(t *testing.T, repo, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/"+name)...)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return bin
}

func (s *soak) setUp() {
	t := s.t
	s.started = time.Now()
	s.regionBin = buildCmd(t, s.repo, "bootfs-region")
	s.bootfsBin = buildCmd(t, s.repo, "bootfs")
	s.logf("built bootfs-region and bootfs")

	s.secret = "soak-secret"
	s.secretFile = filepath.Join(s.dir, "secret")
	if err := os.WriteFile(s.secretFile, []byte(s.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.dbURL = pgtest.NewDatabase(t)
	s.version = 1
	s.newest = soakVersion(1)
	s.mirrorOpts = regiontest.MirrorOptions{Scale: soakScale, Version: s.newest, SystemRoot: t.TempDir()}
	s.mirror = regiontest.NewMirror(t, s.mirrorOpts)

	for i := range soakRegions {
		r := &soakRegion{name: fmt.Sprintf("region%d", i+1), storage: tmpfs.Mount(t, soakRegionDisk)}
		r.listen = fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
		r.proxy = newStallProxy(t, r.listen)
		r.proc = newSoakProc(t, s.dir, r.name, s.regionBin, "serve", "--name", r.name,
			"--listen", r.listen, "--url", r.proxy.URL(), "--storage", r.storage,
			"--database-url", s.dbURL, "--secret-file", s.secretFile,
			"--import-interval", "0", "--verify-rate", "0", "--claim-ttl", "5s",
			"--sync-interval", "5s", "--cleanup-grace", soakCleanup.String(), "--log-level", "info")
		if err := r.proc.start(); err != nil {
			t.Fatal(err)
		}
		s.regions = append(s.regions, r)
		if d, err := s.waitRegion(r, time.Minute); err != nil {
			t.Fatalf("%s did not start: %v (after %s)\n%s", r.name, err, d, logTail(r.proc.logPath))
		}
	}
	s.logf("3 regions up")
	s.publish(s.regions[0], false)
	s.waitConverged(3*time.Minute, false)
	s.logf("first import converged: version %s on every region", s.newest)
	s.pollTrees()

	var sources []string
	for _, r := range s.regions {
		sources = append(sources, r.proxy.URL())
	}
	for i := range soakRacks {
		k := &soakRack{name: fmt.Sprintf("rack%d", i+1), cache: tmpfs.Mount(t, soakRackDisk)}
		d := t.TempDir()
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
		k.mnt = filepath.Join(d, "mnt")
		if err := os.Mkdir(k.mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		k.metrics = fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
		opts := strings.Join([]string{"ro", "allow_other", "secret_file=" + s.secretFile, "cache_dir=" + k.cache,
			"cache_size=" + soakRackCacheSz, "tree_wait=5s", "offline_after=5s", "metrics=" + k.metrics,
			"log_level=info"}, ",")
		k.proc = newSoakProc(t, s.dir, k.name, s.bootfsBin, strings.Join(sources, ","), k.mnt, "-o", opts, "-f")
		t.Cleanup(func() { unix.Unmount(k.mnt, unix.MNT_DETACH) })
		if err := s.startRack(k); err != nil {
			t.Fatalf("%s: %v\n%s", k.name, err, logTail(k.proc.logPath))
		}
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
		startNginx(t, "", s.site(k.mnt, addr), addr)
		k.base = "http://" + addr
		s.racks = append(s.racks, k)
	}
	s.logf("2 racks mounted, nginx in front of each")
}

// site returns the packaging's nginx site for a rack, its rackd upstream
// (boot logging and dynamic files, 127.0.0.1:5249) pointed at a stand-in
// that logs nothing and has no dynamic file, as rackd without machines.
func (s *soak) site(root, listen string) string {
	if s.rackd == nil {
		s.rackd = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/log" {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			http.NotFound(w, r)
		}))
		s.t.Cleanup(s.rackd.Close)
	}
	site := nginxSite(s.t, &rig{repo: s.repo}, root, listen, "")
	const upstream = "server 127.0.0.1:5249;"
	if !strings.Contains(site, upstream) {
		s.t.Fatalf("the packaging nginx site has no %q", upstream)
	}
	return strings.Replace(site, upstream, "server "+strings.TrimPrefix(s.rackd.URL, "http://")+";", 1)
}

func soakVersion(n int) string { return fmt.Sprintf("2026%04d", n) }

// startRack starts a rack's bootfs (after unmounting a dead mount) and
// waits until its mountpoint is a mount.
func (s *soak) startRack(k *soakRack) error {
	unix.Unmount(k.mnt, unix.MNT_DETACH)
	if err := k.proc.start(); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if isMounted(s.t, k.mnt) {
			return nil
		}
		if k.proc.pid() == 0 {
			return fmt.Errorf("bootfs exited before mounting")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not mounted after a minute")
}

// get sends an authenticated GET straight to a region (not through its
// proxy: the test's own view must not stall).
func (s *soak) get(r *soakRegion, path string, v any) error {
	req, err := http.NewRequest(http.MethodGet, r.direct()+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.secret)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	if v == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// waitRegion waits until r answers its status; it returns how long that took.
func (s *soak) waitRegion(r *soakRegion, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	var err error
	for time.Since(start) < timeout {
		var st wire.Status
		if err = s.get(r, wire.PathStatus, &st); err == nil {
			return time.Since(start), nil
		}
		if r.proc.pid() == 0 {
			return time.Since(start), fmt.Errorf("%s exited: %w", r.name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), err
}

// cli runs a bootfs-region client command against region r.
func (s *soak) cli(r *soakRegion, args ...string) error {
	args = append(args, "--region", r.direct(), "--secret-file", s.secretFile)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.regionBin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("bootfs-region %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// publish writes the next version into the mirror (unless first), points
// the source at its new keyring (the dev mirror signs each run with a new
// key) and asks the regions to import, through region r.
func (s *soak) publish(r *soakRegion, next bool) {
	if next {
		s.version++
		s.mirrorOpts.Version = soakVersion(s.version)
		s.mirror.Regenerate(s.t, s.mirrorOpts)
		s.mu.Lock()
		s.newest = s.mirrorOpts.Version
		s.mu.Unlock()
	}
	args := []string{"sources", "add", "--keyring", s.mirror.KeyringPath, "--os", "*", s.mirror.URL}
	if next { // the source exists: add refuses an existing URL
		args = []string{"sources", "update", "--keyring", s.mirror.KeyringPath, s.mirror.URL}
	}
	if err := s.cli(r, args...); err != nil {
		s.t.Errorf("publish %s: %v", s.mirrorOpts.Version, err)
		return
	}
	// The CLI asks every region it finds alive; importing on one is enough
	// (the others copy from it), so a region that is slow to answer is no
	// failure here.
	if err := s.cli(r, "import"); err != nil {
		s.logf("import request for %s: %v", s.mirrorOpts.Version, err)
	}
}

// converged reports whether every region answers, the sets of the newest
// version are available and held whole by every region, every region
// serves the same tree, and (if cleaned) no set of another version remains.
func (s *soak) converged(cleaned bool) (bool, string) {
	s.mu.Lock()
	newest := s.newest
	s.mu.Unlock()
	gen := ""
	for i, r := range s.regions {
		var st wire.Status
		if err := s.get(r, wire.PathStatus, &st); err != nil {
			return false, fmt.Sprintf("%s: %v", r.name, err)
		}
		n := 0
		for _, set := range st.Sets {
			if set.Version != newest {
				if cleaned {
					return false, fmt.Sprintf("%s still lists %s %s %s", r.name, set.Resource, set.Architecture, set.Version)
				}
				continue
			}
			n++
			if !set.Available {
				return false, fmt.Sprintf("%s: %s %s %s not available (held back by %v)", r.name, set.Resource, set.Architecture, set.Version, set.HeldBackBy)
			}
			for _, o := range s.regions {
				if set.Held[o.name] != set.Size {
					return false, fmt.Sprintf("%s: %s holds %d of %d bytes of %s %s", r.name, o.name, set.Held[o.name], set.Size, set.Resource, set.Version)
				}
			}
		}
		if n == 0 {
			return false, fmt.Sprintf("%s lists no set of version %s", r.name, newest)
		}
		var tree wire.Tree
		if err := s.get(r, wire.PathTree, &tree); err != nil {
			return false, fmt.Sprintf("%s: %v", r.name, err)
		}
		if i == 0 {
			gen = tree.Generation
		} else if tree.Generation != gen {
			return false, fmt.Sprintf("%s serves tree %s, %s serves %s", r.name, tree.Generation, s.regions[0].name, gen)
		}
	}
	return true, ""
}

func (s *soak) waitConverged(timeout time.Duration, cleaned bool) time.Duration {
	start := time.Now()
	why := ""
	for time.Since(start) < timeout {
		var ok bool
		if ok, why = s.converged(cleaned); ok {
			return time.Since(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.t.Fatalf("not converged after %s: %s", timeout, why)
	return 0
}

// pollTrees learns every region's tree: which sha256s each path has had,
// and a verified copy of every file (from a region's store, checked
// against the sha256) to compare reads with.
func (s *soak) pollTrees() {
	for _, r := range s.regions {
		var tree wire.Tree
		if err := s.get(r, wire.PathTree, &tree); err != nil {
			continue
		}
		s.mu.Lock()
		if s.gens == nil {
			s.gens = make(map[string]string)
		}
		if s.gens[r.name] != tree.Generation {
			s.gens[r.name] = tree.Generation
			s.treeChanged.Store(time.Now().UnixNano())
		}
		s.mu.Unlock()
		var have []wire.Entry
		for _, e := range tree.Files {
			if s.learn(e) {
				have = append(have, e)
			}
		}
		s.mu.Lock()
		if len(have) > 0 {
			s.latest = have
		}
		s.mu.Unlock()
	}
}

// learn records e and makes sure its verified copy exists.
func (s *soak) learn(e wire.Entry) bool {
	s.mu.Lock()
	if s.known[e.Path] == nil {
		s.known[e.Path] = make(map[digest.Digest]bool)
	}
	s.known[e.Path][e.SHA256] = true
	_, ok := s.truth[e.SHA256]
	s.mu.Unlock()
	if ok {
		return true
	}
	s.learnMu.Lock() // one copy at a time (readers and the poller learn)
	defer s.learnMu.Unlock()
	s.mu.Lock()
	_, ok = s.truth[e.SHA256]
	s.mu.Unlock()
	if ok {
		return true
	}
	dst := filepath.Join(s.truthDir, e.SHA256.String())
	for _, r := range s.regions {
		b, err := os.ReadFile(filepath.Join(r.storage, e.SHA256.String()))
		if err != nil || int64(len(b)) != e.Size || digest.Of(b) != e.SHA256 {
			continue
		}
		if err := os.WriteFile(dst+".tmp", b, 0o644); err != nil {
			s.t.Errorf("truth copy: %v", err)
			return false
		}
		if err := os.Rename(dst+".tmp", dst); err != nil {
			s.t.Errorf("truth copy: %v", err)
			return false
		}
		s.mu.Lock()
		s.truth[e.SHA256] = dst
		s.sizes[e.SHA256] = e.Size
		s.mu.Unlock()
		return true
	}
	return false
}

// inLatest reports whether the newest tree seen has e.
func (s *soak) inLatest(e wire.Entry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.latest {
		if l.Path == e.Path {
			return l.SHA256 == e.SHA256
		}
	}
	return false
}

// candidates returns the sha256s path has had whose size is size (-1: any).
func (s *soak) candidates(path string, size int64) []digest.Digest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []digest.Digest
	for d := range s.known[path] {
		if _, ok := s.truth[d]; ok && (size < 0 || s.sizes[d] == size) {
			out = append(out, d)
		}
	}
	return out
}

// matches reports whether got is bytes [off, off+len(got)) of one of the
// files path has been (whole, if whole).
func (s *soak) matches(path string, size, off int64, got []byte, whole bool) bool {
	for _, d := range s.candidates(path, size) {
		if whole {
			if digest.Of(got) == d {
				return true
			}
			continue
		}
		f, err := os.Open(s.truth[d])
		if err != nil {
			continue
		}
		want := make([]byte, len(got))
		n, _ := f.ReadAt(want, off)
		f.Close()
		if n == len(got) && bytes.Equal(want, got) {
			return true
		}
	}
	return false
}

// verify checks bytes read; a mismatch is looked at again after the trees
// are polled (the rack may have followed a new tree first) before it counts
// as wrong bytes delivered.
func (s *soak) verify(what, path string, size, off int64, got []byte, whole bool) {
	if !s.matches(path, size, off, got, whole) {
		s.pollTrees()
		if !s.matches(path, size, off, got, whole) {
			s.stats.mu.Lock()
			s.stats.wrong++
			s.stats.mu.Unlock()
			saved := filepath.Join(s.dir, fmt.Sprintf("wrong-%d", time.Now().UnixNano()))
			os.WriteFile(saved, got, 0o644)
			s.t.Errorf("WRONG BYTES: %s: %s size %d offset %d, %d bytes (sha256 %s) match no version of the file; saved in %s",
				what, path, size, off, len(got), digest.Of(got), saved)
			return
		}
	}
	s.stats.mu.Lock()
	s.stats.verified += int64(len(got))
	s.stats.mu.Unlock()
}

// readerState is what the watchdog sees of a reader.
type readerState struct {
	since atomic.Int64 // unix nanos the current read began, 0 when idle
	what  atomic.Value // string
	flag  atomic.Bool  // reported stuck
}

var soakReaderStates [soakReaders]readerState

func (s *soak) reader(ctx context.Context, id int) {
	rng := rand.New(rand.NewPCG(s.seed, uint64(id)+1))
	st := &soakReaderStates[id]
	for ctx.Err() == nil {
		s.mu.Lock()
		files := s.latest
		s.mu.Unlock()
		if len(files) == 0 {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		e := files[rng.IntN(len(files))]
		k := s.racks[rng.IntN(len(s.racks))]
		mode := []string{"nginx-file", "nginx-range", "mount-file", "mount-range"}[rng.IntN(4)]
		lo := rng.Int64N(e.Size)
		n := 1 + rng.Int64N(min(3<<20, e.Size-lo))
		what := fmt.Sprintf("%s %s %s", k.name, mode, e.Path)
		st.what.Store(what)
		st.flag.Store(false)
		st.since.Store(time.Now().UnixNano())
		errKind := s.readOnce(k, mode, e, lo, n, what)
		st.since.Store(0)
		gone := false
		if errKind != "" {
			// The rack may have followed a tree without the path before the
			// test polled it: look now.
			s.pollTrees()
			gone = !s.inLatest(e)
		}
		s.stats.mu.Lock()
		s.stats.reads[mode]++
		if errKind != "" {
			phase, _ := s.phase.Load().(string)
			if phase == "" {
				phase = "no fault"
				// Racks follow a new tree within a few seconds: until then
				// a path of one tree may be missing from the other.
				if gone {
					phase = "path left the tree"
				} else if time.Since(time.Unix(0, s.treeChanged.Load())) < 15*time.Second {
					phase = "tree changed <15s ago"
				}
			}
			key := phase + ": " + errKind
			s.stats.readErrs[key]++
			if phase == "no fault" && len(s.stats.samples) < 8 {
				s.stats.samples = append(s.stats.samples, fmt.Sprintf("%s at %s: %s (%s)", key,
					time.Since(s.started).Round(100*time.Millisecond), what, e.SHA256.String()[:12]))
			}
		}
		s.stats.mu.Unlock()
	}
}

// readOnce does one read and verifies it; it returns the kind of error, if
// the read failed (a failed read is no wrong byte, and is counted).
func (s *soak) readOnce(k *soakRack, mode string, e wire.Entry, lo, n int64, what string) string {
	switch mode {
	case "nginx-file", "nginx-range":
		req, _ := http.NewRequest(http.MethodGet, k.base+"/"+e.Path, nil)
		if mode == "nginx-range" {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", lo, lo+n-1))
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return "http: " + errKind(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return "http body: " + errKind(err)
		}
		switch {
		case mode == "nginx-file" && resp.StatusCode == http.StatusOK:
			s.verify(what, e.Path, int64(len(body)), 0, body, true)
		case mode == "nginx-range" && resp.StatusCode == http.StatusPartialContent:
			var a, b, total int64
			if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &a, &b, &total); err != nil || a != lo || b-a+1 != int64(len(body)) {
				s.t.Errorf("%s: Content-Range %q for Range bytes=%d-%d and %d bytes", what, resp.Header.Get("Content-Range"), lo, lo+n-1, len(body))
				return "bad content-range"
			}
			s.verify(what, e.Path, total, a, body, false)
		default:
			return fmt.Sprintf("http %d", resp.StatusCode)
		}
	case "mount-file":
		b, err := os.ReadFile(filepath.Join(k.mnt, e.Path))
		if err != nil {
			return "mount: " + errKind(err)
		}
		s.verify(what, e.Path, int64(len(b)), 0, b, true)
	case "mount-range":
		f, err := os.Open(filepath.Join(k.mnt, e.Path))
		if err != nil {
			return "mount open: " + errKind(err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return "mount stat: " + errKind(err)
		}
		buf := make([]byte, n)
		got, err := f.ReadAt(buf, lo)
		if err != nil && !(errors.Is(err, io.EOF) && lo+int64(got) == fi.Size()) {
			if got > 0 {
				s.verify(what, e.Path, fi.Size(), lo, buf[:got], false)
			}
			return "mount read: " + errKind(err)
		}
		s.verify(what, e.Path, fi.Size(), lo, buf[:got], false)
	}
	return ""
}

// errKind names an error briefly: its errno if it has one.
func errKind(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// watchdog reports readers stuck in one read past soakStuckBound, and keeps
// the trees learnt.
func (s *soak) watchdog(ctx context.Context, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.pollTrees()
		now := time.Now().UnixNano()
		for i := range soakReaderStates {
			st := &soakReaderStates[i]
			since := st.since.Load()
			if since != 0 && time.Duration(now-since) > soakStuckBound && !st.flag.Swap(true) {
				s.stats.mu.Lock()
				s.stats.stuck++
				s.stats.mu.Unlock()
				s.t.Errorf("STUCK: reader %d has been in %q for %s", i, st.what.Load(), time.Duration(now-since).Round(time.Second))
			}
		}
	}
}

// warmUp reads every file of the tree through each rack's nginx once.
func (s *soak) warmUp() {
	s.pollTrees()
	s.mu.Lock()
	files := s.latest
	s.mu.Unlock()
	for _, k := range s.racks {
		for _, e := range files {
			if kind := s.readOnce(k, "nginx-file", e, 0, e.Size, k.name+" warm-up "+e.Path); kind != "" {
				s.t.Fatalf("warm-up read of %s through %s: %s\n%s", e.Path, k.name, kind, logTail(k.proc.logPath))
			}
		}
	}
	s.logf("warm-up: %d files read through each rack", len(files))
}

// healthy reports whether every region answers and each rack serves a
// small file of the tree, right, through nginx.
func (s *soak) healthy() bool {
	for _, r := range s.regions {
		if s.get(r, wire.PathHealth, nil) != nil {
			return false
		}
	}
	s.mu.Lock()
	files := s.latest
	s.mu.Unlock()
	var probe wire.Entry
	for _, e := range files {
		if probe.Path == "" || e.Size < probe.Size {
			probe = e
		}
	}
	if probe.Path == "" {
		return false
	}
	for _, k := range s.racks {
		if s.readOnce(k, "nginx-file", probe, 0, probe.Size, k.name+" probe "+probe.Path) != "" {
			return false
		}
	}
	return true
}

// recovered waits for healthy and records the time under kind.
func (s *soak) recovered(kind, target string, since time.Time) {
	for !s.healthy() {
		if time.Since(since) > soakRecoverMax {
			s.t.Errorf("%s %s: not recovered %s after the fault ended", kind, target, soakRecoverMax)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	d := time.Since(since)
	s.stats.mu.Lock()
	s.stats.recoveries[kind] = append(s.stats.recoveries[kind], d)
	s.stats.mu.Unlock()
	s.logf("%s %s: recovered in %s", kind, target, d.Round(time.Millisecond))
}

// schedule runs faults one after another, from the seeded generator, for
// dur. One fault is active at a time (publishes happen between them and
// their imports run on during the next faults): at most one region or one
// rack is down, full or stalled at once.
func (s *soak) schedule(dur time.Duration) {
	end := time.Now().Add(dur)
	// Rounds of every kind once, in a seeded order: a short run still
	// injects each kind.
	var deck []string
	for time.Now().Before(end) {
		if len(deck) == 0 {
			deck = []string{"kill-region", "kill-rack", "fill-region-disk", "fill-rack-cache", "stall-region", "publish",
				"kill-region", "stall-region", "publish"}
			s.rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
		}
		kind := deck[0]
		deck = deck[1:]
		hold := time.Duration(2000+s.rng.IntN(8000)) * time.Millisecond
		r := s.regions[s.rng.IntN(len(s.regions))]
		k := s.racks[s.rng.IntN(len(s.racks))]
		gap := time.Duration(500+s.rng.IntN(3000)) * time.Millisecond
		s.stats.mu.Lock()
		s.stats.faults[kind]++
		s.stats.mu.Unlock()
		if kind != "publish" {
			s.phase.Store(kind)
		}
		switch kind {
		case "kill-region":
			s.logf("kill -9 %s for %s", r.name, hold)
			r.proc.kill9()
			time.Sleep(hold)
			if err := r.proc.start(); err != nil {
				s.t.Fatal(err)
			}
			restarted := time.Now()
			if _, err := s.waitRegion(r, soakRecoverMax); err != nil {
				s.t.Fatalf("%s did not come back: %v\n%s", r.name, err, logTail(r.proc.logPath))
			}
			s.recovered(kind, r.name, restarted)
		case "kill-rack":
			s.logf("kill -9 %s for %s", k.name, hold)
			k.proc.kill9()
			time.Sleep(hold)
			restarted := time.Now()
			if err := s.startRack(k); err != nil {
				s.t.Fatalf("%s did not come back: %v\n%s", k.name, err, logTail(k.proc.logPath))
			}
			s.recovered(kind, k.name, restarted)
		case "fill-region-disk", "fill-rack-cache":
			dir, name := r.storage, r.name
			if kind == "fill-rack-cache" {
				dir, name = k.cache, k.name
			}
			path, n, err := fillDisk(dir)
			s.logf("filled %s's disk (%d MiB more) for %s", name, n>>20, hold)
			if err != nil {
				s.t.Errorf("fill %s: %v", dir, err)
			}
			time.Sleep(hold)
			if path != "" {
				os.Remove(path)
			}
			s.recovered(kind, name, time.Now())
		case "stall-region":
			s.logf("stall %s's connections for %s", r.name, hold)
			r.proxy.stall()
			time.Sleep(hold)
			r.proxy.resume()
			s.recovered(kind, r.name, time.Now())
		case "publish":
			s.publish(r, true)
			s.logf("published %s (import asked of %s)", s.mirrorOpts.Version, r.name)
			go s.watchPublish(s.mirrorOpts.Version, time.Now())
		}
		s.phase.Store("")
		time.Sleep(gap)
	}
}

// watchPublish records how long version took to become the available set
// on every region (if it did before a newer one came).
func (s *soak) watchPublish(version string, since time.Time) {
	for time.Since(since) < 5*time.Minute {
		s.mu.Lock()
		newest := s.newest
		s.mu.Unlock()
		if newest != version {
			s.stats.mu.Lock()
			s.stats.publishes = append(s.stats.publishes, version+": superseded before available")
			s.stats.mu.Unlock()
			return
		}
		if ok, _ := s.converged(false); ok {
			d := time.Since(since)
			s.stats.mu.Lock()
			s.stats.publishes = append(s.stats.publishes, fmt.Sprintf("%s: available on every region in %s", version, d.Round(time.Millisecond)))
			s.stats.recoveries["publish (to available)"] = append(s.stats.recoveries["publish (to available)"], d)
			s.stats.mu.Unlock()
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// converge waits, after the schedule, for the newest version to be
// published everywhere and then for every older one to be deleted once the
// cleanup grace has passed, with nothing else asked of the regions.
func (s *soak) converge() {
	d := s.waitConverged(soakRecoverMax+soakCleanup, false)
	s.logf("converged on %s in %s", s.newest, d.Round(time.Millisecond))
	start := time.Now()
	wait := soakCleanup + 30*time.Second // the grace, plus the regions' periodic work
	for {
		ok, why := s.converged(true)
		if ok {
			s.cleanup = fmt.Sprintf("old versions deleted %s after convergence", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > wait {
			s.t.Errorf("old versions not deleted %s after the newest was published everywhere (cleanup grace %s): %s. "+
				"A region deletes superseded sets only after an import, or a peer sync that copied something "+
				"(region/maintenance.go: importLoop, syncLoop and ImportNow call collect); nothing runs it when the "+
				"grace ends, so with --import-interval 0 they stay until the next import, with the default 1h up to an hour late",
				wait, soakCleanup, why)
			// Go on with the other checks: an import runs the clean-up.
			if err := s.cli(s.regions[0], "import"); err != nil {
				s.t.Error(err)
			}
			asked := time.Now()
			s.waitConverged(soakRecoverMax, true)
			s.cleanup = fmt.Sprintf("old versions NOT deleted within %s of convergence; deleted %s after an import was asked",
				wait, time.Since(asked).Round(time.Millisecond))
			break
		}
		time.Sleep(time.Second)
	}
	s.logf("%s", s.cleanup)
	s.pollTrees()
}

// finalPass reads every file of the final tree through both racks' nginx
// and mounts: all must succeed, right, and be of the newest version.
func (s *soak) finalPass() {
	var tree wire.Tree
	if err := s.get(s.regions[0], wire.PathTree, &tree); err != nil {
		s.t.Fatal(err)
	}
	for _, e := range tree.Files {
		s.learn(e)
	}
	deadline := time.Now().Add(time.Minute)
	for _, k := range s.racks {
		for _, e := range tree.Files {
			for _, mode := range []string{"nginx-file", "mount-file"} {
				for {
					kind := s.readOnce(k, mode, e, 0, e.Size, k.name+" final "+mode+" "+e.Path)
					if kind == "" {
						break
					}
					if time.Now().After(deadline) {
						s.t.Errorf("final read of %s through %s (%s): %s", e.Path, k.name, mode, kind)
						break
					}
					time.Sleep(500 * time.Millisecond)
				}
			}
			// The rack serves the newest file at the path, not an older one.
			b, err := os.ReadFile(filepath.Join(k.mnt, e.Path))
			if err == nil && digest.Of(b) != e.SHA256 {
				s.t.Errorf("%s serves an old version of %s after convergence", k.name, e.Path)
			}
		}
	}
	s.logf("final pass: %d files read right through both racks (nginx and mount)", len(tree.Files))
}

type resources struct {
	fds, gor map[string]int
	pids     map[string]int
}

func (s *soak) measure(when string) resources {
	res := resources{fds: map[string]int{}, gor: map[string]int{}, pids: map[string]int{}}
	for _, r := range s.regions {
		pid := r.proc.pid()
		res.pids[r.name], res.fds[r.name] = pid, fdCount(pid)
		res.gor[r.name] = goroutines(r.direct()+wire.PathMetrics, s.secret)
	}
	for _, k := range s.racks {
		pid := k.proc.pid()
		res.pids[k.name], res.fds[k.name] = pid, fdCount(pid)
		res.gor[k.name] = goroutines("http://"+k.metrics+"/metrics", "")
	}
	return res
}

// compareResources fails on fd or goroutine growth beyond the slack. A
// restarted process is compared with the one it replaced (same role, same
// configuration, same load at the end).
func (s *soak) compareResources(base, end resources) {
	for name := range base.fds {
		check := func(what string, a, b, slack int) {
			if a < 0 || b < 0 {
				s.t.Logf("%s %s: not measured (start %d, end %d)", name, what, a, b)
				return
			}
			if allowed := a + max(slack, a/4); b > allowed {
				s.t.Errorf("%s: %s grew from %d to %d (allowed %d)", name, what, a, b, allowed)
			}
		}
		check("file descriptors", base.fds[name], end.fds[name], soakFDSlack)
		check("goroutines", base.gor[name], end.gor[name], soakGoSlack)
	}
}

func (s *soak) checkLogs() {
	var logs []string
	for _, r := range s.regions {
		logs = append(logs, r.proc.logPath)
	}
	for _, k := range s.racks {
		logs = append(logs, k.proc.logPath)
	}
	for _, l := range logs {
		if bad := logPanics(l); len(bad) > 0 {
			s.t.Errorf("%s: %d panic lines, first: %s\n%s", filepath.Base(l), len(bad), bad[0], logTail(l))
		}
	}
}

func (s *soak) summary(dur time.Duration, seed uint64, convergence time.Duration, base, end resources) {
	st := &s.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\n==== soak summary: %s of faults, seed %d, %s in all\n", dur, seed, time.Since(s.started).Round(time.Second))
	total := 0
	for _, n := range st.reads {
		total += n
	}
	fmt.Fprintf(&b, "reads: %d (%s), %.1f MiB verified, %d wrong, %d stuck past %s\n", total, sortedCounts(st.reads),
		float64(st.verified)/(1<<20), st.wrong, st.stuck, soakStuckBound)
	nerr := 0
	for _, n := range st.readErrs {
		nerr += n
	}
	fmt.Fprintf(&b, "failed reads (errors, not wrong bytes), by the fault active then: %d\n", nerr)
	for _, l := range strings.Split(sortedCounts(st.readErrs), ", ") {
		if l != "" {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	for _, l := range st.samples {
		fmt.Fprintf(&b, "  sample: %s\n", l)
	}
	nf := 0
	for _, n := range st.faults {
		nf += n
	}
	fmt.Fprintf(&b, "faults: %d (%s)\n", nf, sortedCounts(st.faults))
	var kinds []string
	for k := range st.recoveries {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		ds := slices.Clone(st.recoveries[k])
		slices.Sort(ds)
		fmt.Fprintf(&b, "recovery %-22s n=%-3d min %-8s median %-8s max %s\n", k, len(ds), ds[0].Round(time.Millisecond),
			ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "versions published: %d (newest %s); after the schedule: converged and cleaned in %s; %s (cleanup grace %s)\n",
		s.version, s.newest, convergence.Round(time.Millisecond), s.cleanup, soakCleanup)
	for _, p := range st.publishes {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	var names []string
	for n := range base.fds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		restarted := ""
		if base.pids[n] != end.pids[n] {
			restarted = " (restarted: pid " + strconv.Itoa(base.pids[n]) + " -> " + strconv.Itoa(end.pids[n]) + ")"
		}
		fmt.Fprintf(&b, "%-8s fds %3d -> %3d, goroutines %4d -> %4d%s\n", n, base.fds[n], end.fds[n], base.gor[n], end.gor[n], restarted)
	}
	s.t.Log(b.String())
}

func sortedCounts(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// logTail returns the end of a log file.
func logTail(path string) string {
	b, _ := os.ReadFile(path)
	const n = 6000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func waitGroupTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
