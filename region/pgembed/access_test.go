package pgembed

import (
	"context"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/bootfs/bootfs/internal/testskip"
	"time"

	"github.com/jackc/pgx/v5"
)

const probeEnv = "PGEMBED_TEST_PROBE_URL"

// probe runs in the child process TestOtherUsersAreRefused starts as
// another OS user: it connects to the URL and runs a query as the
// superuser; it prints "connected" or the error.
func probe(u string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err == nil {
		var super bool
		err = conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super)
		if err == nil {
			os.Stdout.WriteString("connected superuser=" + strconv.FormatBool(super) + "\n")
			os.Exit(0)
		}
	}
	os.Stdout.WriteString("refused: " + err.Error() + "\n")
	os.Exit(0)
}

// TestOtherUsersAreRefused: another OS user (nobody) cannot connect to the
// embedded server, neither on its unix socket nor over TCP on 127.0.0.1
// with the port from the world-readable port file, while the region's own
// user (root here) can.
func TestOtherUsersAreRefused(t *testing.T) {
	needBinaries(t)
	if os.Geteuid() != 0 {
		testskip.Skip(t, "switching to another OS user needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	dir := stateDir(t)
	s := startTest(t, Options{Dir: dir}, nil)
	connect(t, s.URL()) // the region's own user gets in

	// The test binary, where nobody can run it.
	bin := filepath.Join(dir, "probe.test")
	copyFile(t, os.Args[0], bin)
	b, err := os.ReadFile(filepath.Join(dir, "pgport"))
	if err != nil {
		t.Fatal(err)
	}
	port := strings.TrimSpace(string(b))
	tcp := "postgres://" + Superuser + "@127.0.0.1:" + port + "/postgres?sslmode=disable&connect_timeout=5"
	sock := "postgres://" + Superuser + "@/postgres?" + url.Values{"host": {s.SocketDir()}, "port": {port}, "sslmode": {"disable"}}.Encode()
	for name, u := range map[string]string{"tcp 127.0.0.1": tcp, "unix socket": sock, "region URL": s.URL()} {
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = append(os.Environ(), probeEnv+"="+u)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: probe as nobody: %v: %s", name, err, out)
		}
		if !strings.HasPrefix(string(out), "refused: ") {
			t.Errorf("%s: user nobody got in: %s", name, out)
		} else {
			t.Logf("%s: nobody %s", name, strings.TrimSpace(string(out)))
		}
	}
	fi, err := os.Stat(s.SocketDir())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("socket dir mode %v, want 0700", fi.Mode().Perm())
	}
}

// TestOldClusterIsLockedDown: a cluster initialised by an older version
// (pg_hba trusting 127.0.0.1, socket dir 0755) is locked down at the next
// start.
func TestOldClusterIsLockedDown(t *testing.T) {
	needBinaries(t)
	dir := stateDir(t)
	s := startTest(t, Options{Dir: dir}, nil)
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	old := hbaConf + "host    all          all   127.0.0.1/32  trust\n"
	if err := os.WriteFile(filepath.Join(dir, "pgdata", "pg_hba.conf"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.SocketDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	s2 := startTest(t, Options{Dir: dir}, nil)
	b, err := os.ReadFile(filepath.Join(dir, "pgdata", "pg_hba.conf"))
	if err != nil || string(b) != hbaConf {
		t.Errorf("pg_hba.conf not rewritten: %q (%v)", b, err)
	}
	if fi, err := os.Stat(s2.SocketDir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket dir %v (%v), want mode 0700", fi.Mode().Perm(), err)
	}
	var listen string
	if err := connect(t, s2.URL()).QueryRow(context.Background(), "SHOW listen_addresses").Scan(&listen); err != nil || listen != "" {
		t.Errorf("listen_addresses %q (%v), want none", listen, err)
	}
	if _, err := pgx.Connect(context.Background(), "postgres://"+Superuser+"@127.0.0.1:"+strconv.Itoa(s2.Port())+"/postgres?sslmode=disable&connect_timeout=5"); err == nil {
		t.Errorf("a TCP connection on 127.0.0.1 succeeded")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRunningURL: another process finds the running server's socket from
// its postmaster.pid and connects.
func TestRunningURL(t *testing.T) {
	needBinaries(t)
	dir := stateDir(t)
	s := startTest(t, Options{Dir: dir}, nil)
	u, ok := RunningURL(dir, "bootfs")
	if !ok {
		t.Fatal("RunningURL found no running server")
	}
	if u != s.URL() {
		t.Errorf("RunningURL = %s, URL = %s", u, s.URL())
	}
	var one int
	if err := connect(t, u).QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query through RunningURL: %v", err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := RunningURL(dir, "bootfs"); ok {
		t.Error("RunningURL after a clean stop")
	}
}
