package pgtest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const dirPrefix = "bootfs-pgtest-"

// sweepAge is how old a leftover private-server directory must be before
// sweep removes it: far longer than initdb takes, so a directory another
// test binary is still setting up is never touched.
const sweepAge = 10 * time.Minute

// sweep removes private-server directories left behind by test binaries
// that died without running Main's cleanup (a panic, a -timeout): old
// enough, and with no live postmaster. Their postgres has already gone,
// since pgembed ties it to the test process.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < sweepAge {
			continue
		}
		if postmasterAlive(filepath.Join(dir, "pgdata", "postmaster.pid")) {
			continue
		}
		os.RemoveAll(dir) // best effort: it is only litter
	}
}

func postmasterAlive(pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		return true // cannot tell: leave it
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return false
	}
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
