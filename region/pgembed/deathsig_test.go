package pgembed

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const helperEnv = "PGEMBED_TEST_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		helperServer(dir)
	}
	if u := os.Getenv(probeEnv); u != "" {
		probe(u)
	}
	os.Exit(m.Run())
}

// helperServer runs in the separate process TestPostgresDiesWithParent
// starts: it starts a server, prints the postmaster's pid and waits to be
// killed.
func helperServer(dir string) {
	s, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		os.Stderr.WriteString("helper: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("pid " + strconv.Itoa(s.currentPid()) + "\n")
	select {}
}

func TestPostgresDiesWithParent(t *testing.T) {
	needBinaries(t)
	dir := stateDir(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var pid int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "pid "); ok {
			pid, _ = strconv.Atoi(rest)
			break
		}
	}
	if pid == 0 {
		t.Fatal("helper did not report a postmaster pid")
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) // only if the test failed

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	data := filepath.Join(dir, "pgdata")
	waitFor(t, "postgres to exit after its parent was killed", func() bool {
		return !postgresAlive(pid, data) && len(processesIn(t, data)) == 0
	})
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid left behind (%v): postgres did not shut down cleanly", err)
	}
}
