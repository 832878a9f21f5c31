// Package deb tests the Debian packages end to end (scripts/deb-test.sh)
// on this machine: build, lintian, dpkg -i, the installed region as its
// user, an fstab mount, stock nginx, systemd-analyze verify, purge. It
// needs root and installs to the real paths (cleaning up afterwards); the
// script refuses to run where those paths are in use.
package deb

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bootfs/bootfs/internal/testskip"
)

// TestDebianPackages runs scripts/deb-test.sh and checks that the region
// it starts from the installed package told systemd's notify socket
// READY=1 and, at SIGTERM, STOPPING=1.
func TestDebianPackages(t *testing.T) {
	if os.Geteuid() != 0 {
		testskip.Skip(t, "the Debian package test needs root (dpkg -i, mount)")
	}
	if testing.Short() {
		t.Skip("-short: the Debian package test builds, installs and purges packages (minutes)")
	}
	root := moduleRoot(t)

	// A notify socket the region (user bootfs-region) can write to.
	dir, err := os.MkdirTemp("", "bootfs-notify")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := os.Chmod(sock, 0o777); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var states []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			states = append(states, strings.Split(strings.TrimSpace(string(buf[:n])), "\n")...)
			mu.Unlock()
		}
	}()

	cmd := exec.Command("bash", filepath.Join(root, "scripts/deb-test.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	out, err := cmd.CombinedOutput()
	// The region's own log lines are long; show the script's.
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "deb-test") || err != nil {
			t.Log(l)
		}
	}
	if err != nil {
		t.Fatalf("scripts/deb-test.sh: %v", err)
	}
	if !bytes.Contains(out, []byte("deb-test: PASS")) {
		t.Fatal("scripts/deb-test.sh did not report PASS")
	}
	conn.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	t.Logf("notify socket: %q", states)
	if strings.Join(states, " ") != "READY=1 STOPPING=1" {
		t.Errorf("notify socket got %q; want READY=1 once serving, then STOPPING=1", states)
	}
}

// moduleRoot returns the directory of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
