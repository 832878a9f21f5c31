package pgembed

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// maxSocketPath is the longest unix socket path accepted (sun_path is 108
// bytes including the terminating NUL; keep one byte of slack).
const maxSocketPath = 106

// layout names the paths a Server uses.
type layout struct {
	dir      string // state directory
	data     string // Dir/pgdata
	initTmp  string // Dir/pgdata.initdb: initdb's work dir, renamed to data when complete
	socket   string // socket directory
	portFile string // Dir/pgport
}

func newLayout(dir string) layout {
	l := layout{
		dir:      dir,
		data:     filepath.Join(dir, "pgdata"),
		initTmp:  filepath.Join(dir, "pgdata.initdb"),
		socket:   filepath.Join(dir, "run"),
		portFile: filepath.Join(dir, "pgport"),
	}
	if len(filepath.Join(l.socket, ".s.PGSQL.65535")) > maxSocketPath {
		sum := sha256.Sum256([]byte(dir))
		l.socket = filepath.Join(os.TempDir(), "bootfs-pg-"+hex.EncodeToString(sum[:6]))
		if len(filepath.Join(l.socket, ".s.PGSQL.65535")) > maxSocketPath {
			l.socket = filepath.Join("/tmp", "bootfs-pg-"+hex.EncodeToString(sum[:6]))
		}
	}
	return l
}

// prepare creates the state and socket directories, makes the socket
// directory the server user's alone (mode 0700: no other user can reach
// the socket, which is how the server's trust authentication stays
// private) and checks that user can reach the data directory.
func (l layout) prepare(as *runAs) error {
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(l.socket), 0o755); err != nil {
		return fmt.Errorf("create socket dir: %w", err)
	}
	if err := os.Mkdir(l.socket, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create socket dir: %w", err)
	}
	if err := privateDir(l.socket, as); err != nil {
		return err
	}
	if as != nil {
		if err := checkSearchable(l.dir, as); err != nil {
			return err
		}
		if err := checkSearchable(filepath.Dir(l.socket), as); err != nil {
			return err
		}
	}
	return nil
}

// privateDir makes dir a real directory (not a symlink) owned by the
// server's user (as, or this process's user) with mode 0700. A directory
// of another owner is refused unless this process is root (a socket
// directory under /tmp could have been made by anyone).
func privateDir(dir string, as *runAs) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("socket dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("socket dir %s is not a directory (a symlink?): remove it", dir)
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	if as != nil {
		uid, gid = as.uid, as.gid
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (st.Uid != uid || st.Gid != gid) {
		if os.Geteuid() != 0 {
			return fmt.Errorf("socket dir %s belongs to uid %d, not to this user (%d): remove it", dir, st.Uid, uid)
		}
		if err := os.Lchown(dir, int(uid), int(gid)); err != nil {
			return fmt.Errorf("chown socket dir: %w", err)
		}
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("chmod socket dir: %w", err)
		}
	}
	return nil
}

// checkSearchable reports an error unless the user can search (x) every
// directory from / down to and including dir.
func checkSearchable(dir string, as *runAs) error {
	groups, err := userGroups(as)
	if err != nil {
		return err
	}
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("check %s: %w", p, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if ok {
			var bit fs.FileMode
			switch {
			case st.Uid == as.uid:
				bit = 0o100
			case groups[st.Gid]:
				bit = 0o010
			default:
				bit = 0o001
			}
			if fi.Mode().Perm()&bit == 0 {
				return fmt.Errorf("postgres runs as user %q, which cannot enter %s (mode %v, owner uid %d): allow it, e.g. `chmod o+x %s`, or use a state directory it can reach", as.name, p, fi.Mode().Perm(), st.Uid, p)
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// userGroups returns the user's primary and supplementary group ids.
func userGroups(as *runAs) (map[uint32]bool, error) {
	groups := map[uint32]bool{as.gid: true}
	u, err := user.Lookup(as.name)
	if err != nil {
		return nil, fmt.Errorf("look up user %q: %w", as.name, err)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of user %q: %w", as.name, err)
	}
	for _, id := range ids {
		if n, err := strconv.ParseUint(id, 10, 32); err == nil {
			groups[uint32(n)] = true
		}
	}
	return groups, nil
}

// choosePort returns the port to use: the configured one, else the
// remembered one if free, else a new free one (remembered for next time).
func (l layout) choosePort(configured int) (int, error) {
	if configured != 0 {
		return configured, nil
	}
	if b, err := os.ReadFile(l.portFile); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 && p < 65536 && portFree(p) {
			return p, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("read port file: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	if err := writeFileAtomic(l.portFile, []byte(strconv.Itoa(p)+"\n")); err != nil {
		return 0, fmt.Errorf("remember port: %w", err)
	}
	return p, nil
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// writeFileAtomic writes data to a temp file beside path, syncs and renames.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
