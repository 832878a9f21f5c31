package pgembed

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Options configures Start. The zero value of every field but Dir has a
// documented default, applied by Start.
type Options struct {
	// Dir is the state directory, created if missing. The cluster lives in
	// Dir/pgdata, the unix socket in Dir/run (or a short directory under
	// /tmp when that path would be too long for a socket).
	Dir string
	// Port is the TCP port on 127.0.0.1. 0 chooses a free port on first
	// start and remembers it in Dir/pgport, so later starts reuse it while
	// it is free.
	Port int
	// BinDir holds initdb and postgres. "" detects it with FindBinDir.
	BinDir string
	// User is the OS user postgres runs as when this process is root
	// (PostgreSQL refuses root). "" means "postgres". Ignored when not root.
	User string
	// Database is created if missing. "" means "bootfs".
	Database string
	// Settings are extra server settings passed as `-c name=value`, for
	// example {"fsync": "off"} in throwaway test servers. They override the
	// defaults this package sets.
	Settings map[string]string
	// Log receives the server's own log lines (key "postgres"; its
	// routine chatter at debug level, warnings and errors at warn, see
	// serverLevel) and supervision events. nil discards them.
	Log *slog.Logger
}

// Superuser is the role initdb creates and URL connects as.
const Superuser = "postgres"

// ErrNoBinaries means no PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (install the Debian package postgresql)")

// ErrRunning means a live postgres already serves the data directory.
var ErrRunning = errors.New("a postgres server is already running on this data directory")

func (o *Options) applyDefaults() error {
	if o.Dir == "" {
		return errors.New("Options.Dir is required")
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	o.Dir = abs
	if o.Port < 0 || o.Port > 65535 {
		return fmt.Errorf("port %d out of range", o.Port)
	}
	if o.BinDir == "" {
		if o.BinDir, err = FindBinDir(); err != nil {
			return err
		}
	}
	if o.User == "" {
		o.User = "postgres"
	}
	if o.Database == "" {
		o.Database = "bootfs"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// FindBinDir returns the directory holding PostgreSQL's initdb and postgres:
// the newest /usr/lib/postgresql/VERSION/bin, else the directory of initdb
// on PATH (symlinks resolved, so a /usr/local/bin link to Debian's binaries
// finds the real directory). It returns ErrNoBinaries if neither exists.
func FindBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		return versionLess(filepath.Base(filepath.Dir(dirs[i])), filepath.Base(filepath.Dir(dirs[j])))
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if hasServer(dirs[i]) {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if dir := filepath.Dir(p); hasServer(dir) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionLess orders "9.6" < "10" < "15" numerically, part by part.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, errA := strconv.Atoi(pa[i])
		nb, errB := strconv.Atoi(pb[i])
		if errA != nil || errB != nil {
			if pa[i] != pb[i] {
				return pa[i] < pb[i]
			}
			continue
		}
		if na != nb {
			return na < nb
		}
	}
	return len(pa) < len(pb)
}

// runAs is the identity postgres runs under; nil means this process's own.
type runAs struct {
	name string
	uid  uint32
	gid  uint32
}

func (r *runAs) credential() *syscall.Credential {
	if r == nil {
		return nil
	}
	return &syscall.Credential{Uid: r.uid, Gid: r.gid}
}

// resolveUser returns the identity to run postgres as: nil when not root.
func resolveUser(name string) (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root, so it runs as user %q, which does not exist (%v); create it with `useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin %s` or name another unprivileged user", name, err, name)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %q is root; PostgreSQL needs an unprivileged user", name)
	}
	return &runAs{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
}
