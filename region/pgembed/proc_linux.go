package pgembed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr runs a child in its own process group (so a terminal's ^C
// reaches the region, which then stops postgres in order, not postgres
// directly), as the server's user when root, and asks the kernel to send it
// SIGINT if this process dies: a fast shutdown, which disconnects any
// remaining sessions (SIGTERM, a smart shutdown, would wait for them, for
// example for an operator's psql, forever). Go sets the parent-death signal
// after switching credentials, so it survives the switch. The kernel ties
// it to the thread that started the child; Go only retires threads of
// goroutines that exit while locked to them, which this package never does.
func sysProcAttr(as *runAs) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGINT,
		Credential: as.credential(),
	}
}

func ownerOf(path string) (uint32, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("stat %s: no owner information", path)
	}
	return st.Uid, nil
}

// clearStaleLock removes a postgres lock file (postmaster.pid, or the
// socket's .s.PGSQL.PORT.lock) left behind by a server that no longer runs.
// It returns ErrRunning if the process named in it is a live postgres on
// dataDir.
func clearStaleLock(path, dataDir string) (removedPid int, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, perr := strconv.Atoi(strings.TrimSpace(first))
	if perr == nil && pid < 0 {
		pid = -pid // postgres writes -pid when a standalone backend holds the lock
	}
	if perr == nil && pid > 0 && pid != os.Getpid() && postgresAlive(pid, dataDir) {
		return 0, fmt.Errorf("%w (pid %d, lock file %s)", ErrRunning, pid, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("remove stale %s: %w", path, err)
	}
	return pid, nil
}

// postgresAlive reports whether pid is a running (not zombie) process that
// is, or may be, a postgres serving dataDir. When its working directory
// cannot be read (another user's process), a process named postgres counts
// as alive: refusing to start is safer than two servers on one directory.
func postgresAlive(pid int, dataDir string) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	proc := "/proc/" + strconv.Itoa(pid)
	if stat, err := os.ReadFile(proc + "/stat"); err == nil {
		// The state follows the parenthesised command name.
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	if cwd, err := os.Readlink(proc + "/cwd"); err == nil {
		want, _ := filepath.EvalSymlinks(dataDir)
		return cwd == dataDir || cwd == want
	}
	comm, err := os.ReadFile(proc + "/comm")
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	name := strings.TrimSpace(string(comm))
	return name == "postgres" || name == "postmaster"
}
