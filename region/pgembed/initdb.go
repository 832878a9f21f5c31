package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// hbaConf replaces initdb's pg_hba.conf, and is written again at every
// start (clusters made by older versions trusted 127.0.0.1 too): unix
// socket connections only. Trust is safe there because the socket's
// directory is mode 0700 (see layout.prepare): only the server's user (and
// root, the region) can reach it. The server listens on no TCP address.
const hbaConf = `# Written by bootfs pgembed at every start: unix socket only, in a directory
# only the server's user can enter. Edits are overwritten.
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
local   replication  all                 trust
`

// initCluster runs initdb unless Dir/pgdata already holds a cluster. initdb
// works in Dir/pgdata.initdb, renamed to Dir/pgdata only once complete, so
// an interrupted first start is simply redone.
func (s *Server) initCluster(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(s.l.data, "PG_VERSION")); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("check cluster: %w", err)
	}
	if entries, err := os.ReadDir(s.l.data); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty but holds no PostgreSQL cluster (no PG_VERSION); move it away", s.l.data)
	}
	if err := os.RemoveAll(s.l.initTmp); err != nil {
		return fmt.Errorf("remove unfinished initdb dir: %w", err)
	}
	if err := os.Mkdir(s.l.initTmp, 0o700); err != nil {
		return fmt.Errorf("create initdb dir: %w", err)
	}
	if s.as != nil {
		if err := os.Chown(s.l.initTmp, int(s.as.uid), int(s.as.gid)); err != nil {
			return fmt.Errorf("chown initdb dir: %w", err)
		}
	}
	args := []string{
		"--pgdata", s.l.initTmp,
		"--username", Superuser,
		"--auth", "trust",
		"--encoding", "UTF8",
		"--locale", "C",
	}
	if s.initNoSync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.o.BinDir, "initdb"), args...)
	cmd.Dir = s.l.dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = sysProcAttr(s.as)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %w: %s", err, tail(string(out), 2000))
	}
	if err := s.writeHBA(s.l.initTmp); err != nil {
		return err
	}
	if err := os.Remove(s.l.data); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove empty data dir: %w", err)
	}
	if err := os.Rename(s.l.initTmp, s.l.data); err != nil {
		return fmt.Errorf("install cluster: %w", err)
	}
	if err := syncDir(s.l.dir); err != nil {
		return fmt.Errorf("sync state dir: %w", err)
	}
	s.log.Info("initialised PostgreSQL cluster", "path", s.l.data, "bindir", s.o.BinDir)
	return nil
}

// writeHBA writes hbaConf into the cluster in dir, owned by the server's
// user, unless it is there already.
func (s *Server) writeHBA(dir string) error {
	hba := filepath.Join(dir, "pg_hba.conf")
	if b, err := os.ReadFile(hba); err == nil && string(b) == hbaConf {
		return nil
	}
	if err := writeFileAtomic(hba, []byte(hbaConf)); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	if s.as != nil {
		if err := os.Chown(hba, int(s.as.uid), int(s.as.gid)); err != nil {
			return fmt.Errorf("chown pg_hba.conf: %w", err)
		}
	}
	return nil
}

// ensureOwner gives the data directory to the server's user when running
// as root and it belongs to someone else (for example after the state
// directory was restored from a backup as root).
func (s *Server) ensureOwner() error {
	if s.as == nil {
		return nil
	}
	owner, err := ownerOf(s.l.data)
	if err != nil {
		return err
	}
	if owner == s.as.uid {
		return nil
	}
	s.log.Info("giving data directory to the postgres user", "path", s.l.data, "user", s.as.name)
	return filepath.WalkDir(s.l.data, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, int(s.as.uid), int(s.as.gid)); err != nil {
			return fmt.Errorf("chown data dir: %w", err)
		}
		return nil
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// serverEnv is this process's environment without PG* variables and
// NOTIFY_SOCKET, which would otherwise change what initdb and postgres do.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		// NOTIFY_SOCKET: Debian's postgres speaks sd_notify, and would
		// tell the region's service manager READY=1 and STOPPING=1.
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			env = append(env, kv)
		}
	}
	return env
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}
