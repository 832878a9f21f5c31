package pgembed

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/bootfs/bootfs/internal/testskip"
)

func TestStartRestartKeepsDataAndStopLeavesNothing(t *testing.T) {
	needBinaries(t)
	dir := stateDir(t)
	ctx := context.Background()

	s1 := startTest(t, Options{Dir: dir, Database: "region one"}, nil)
	if !strings.Contains(s1.URL(), "/region%20one?") || !strings.Contains(s1.URL(), "sslmode=disable") {
		t.Errorf("URL %q does not name the database", s1.URL())
	}
	conn := connect(t, s1.URL())
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')"); err != nil {
		t.Fatal(err)
	}
	var listen, fsync string
	if err := conn.QueryRow(ctx, "SELECT current_setting('listen_addresses'), current_setting('fsync')").Scan(&listen, &fsync); err != nil {
		t.Fatal(err)
	}
	if listen != "" || fsync != "on" {
		t.Errorf("listen_addresses=%q fsync=%q, want none (unix socket only) and on", listen, fsync)
	}
	conn.Close(ctx)
	pid, port := s1.currentPid(), s1.Port()

	if err := s1.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	<-s1.Done()
	if s1.Err() != nil {
		t.Errorf("Err after Stop = %v, want nil", s1.Err())
	}
	if processExists(pid) {
		t.Errorf("postmaster %d still exists after Stop", pid)
	}
	if left := processesIn(t, filepath.Join(dir, "pgdata")); len(left) > 0 {
		t.Errorf("processes still running in the data dir after Stop: %v", left)
	}
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid after clean Stop: %v", err)
	}

	s2 := startTest(t, Options{Dir: dir, Database: "region one"}, nil)
	if s2.Port() != port {
		t.Errorf("restart chose port %d, want the remembered %d", s2.Port(), port)
	}
	var v string
	if err := connect(t, s2.URL()).QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "hello" {
		t.Fatalf("after restart: %q, %v; want hello", v, err)
	}
}

func TestStalePidFileIsRemoved(t *testing.T) {
	needBinaries(t)
	dir := stateDir(t)
	ctx := context.Background()
	s := startTest(t, Options{Dir: dir}, nil)
	pidFile := filepath.Join(dir, "pgdata", "postmaster.pid")
	content, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// Pretend the previous server crashed: its pid file names a process
	// that no longer exists.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(content), "\n")
	stale := strconv.Itoa(dead.Process.Pid) + "\n" + rest
	if err := os.WriteFile(pidFile, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	if s.as != nil {
		if err := os.Chown(pidFile, int(s.as.uid), int(s.as.gid)); err != nil {
			t.Fatal(err)
		}
	}

	s2 := startTest(t, Options{Dir: dir}, nil)
	now, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(now), "\n"); first != strconv.Itoa(s2.currentPid()) {
		t.Errorf("postmaster.pid names %s, want the new server %d", first, s2.currentPid())
	}
}

func TestSecondServerOnSameDirRefused(t *testing.T) {
	needBinaries(t)
	dir := stateDir(t)
	s := startTest(t, Options{Dir: dir}, nil)
	portFile := filepath.Join(dir, "pgport")
	before, _ := os.ReadFile(portFile)
	_, err := Start(context.Background(), Options{Dir: dir, Log: testLogger(t)})
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("second Start on a live dir: %v, want ErrRunning", err)
	}
	if after, _ := os.ReadFile(portFile); string(after) != string(before) {
		t.Errorf("a refused Start rewrote the port file: %q -> %q", before, after)
	}
	connect(t, s.URL()) // the first server is unharmed
}

func TestSupervisionRestartsAfterKill(t *testing.T) {
	needBinaries(t)
	ctx := context.Background()
	s := startTest(t, Options{Dir: stateDir(t)}, nil)
	conn := connect(t, s.URL())
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	old := s.currentPid()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a restarted postgres accepting connections", func() bool {
		return s.currentPid() != old && s.ping(ctx) == nil
	})
	select {
	case <-s.Done():
		t.Fatalf("Done closed after one restart: %v", s.Err())
	default:
	}
	var v int
	if err := connect(t, s.URL()).QueryRow(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after restart: %d, %v; want 42", v, err)
	}
}

func TestSupervisionGivesUp(t *testing.T) {
	needBinaries(t)
	s := startTest(t, Options{Dir: stateDir(t)}, nil) // two restarts allowed
	for i := 0; i < 3; i++ {
		pid := s.currentPid()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			waitFor(t, "restart", func() bool { return s.currentPid() != pid && s.ping(context.Background()) == nil })
		}
	}
	<-s.Done()
	if s.Err() == nil || !strings.Contains(s.Err().Error(), "giving up") {
		t.Fatalf("Err = %v, want a giving-up error", s.Err())
	}
}

func TestRootNeedsSearchableStateDir(t *testing.T) {
	needBinaries(t)
	if os.Geteuid() != 0 {
		testskip.Skip(t, "only root switches to the postgres user")
	}
	parent := stateDir(t)
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Dir: filepath.Join(parent, "state"), Log: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "cannot enter "+parent) {
		t.Fatalf("Start under a 0700 root dir: %v, want an error naming %s", err, parent)
	}
}

// processesIn lists pids whose working directory is dir.
func processesIn(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && cwd == dir {
			pids = append(pids, pid)
		}
	}
	return pids
}
