package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var exists bool
	err := connect(t, ServerURL(t)).QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestNewDatabaseIsDroppedEvenWhileConnected(t *testing.T) {
	ctx := context.Background()
	var name string
	var leftOpen *pgx.Conn
	t.Run("inner", func(t *testing.T) {
		url := NewDatabase(t)
		conn, err := pgx.Connect(ctx, url) // deliberately left open past the test
		if err != nil {
			t.Fatal(err)
		}
		leftOpen = conn
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(url, "/"+name+"?") && !strings.HasSuffix(url, "/"+name) {
			t.Errorf("URL %s does not name database %s", url, name)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE t (v int)"); err != nil {
			t.Fatal(err)
		}
		if !databaseExists(t, name) {
			t.Fatalf("database %s missing during the test", name)
		}
	})
	defer leftOpen.Close(ctx)
	if name == "" {
		t.Fatal("inner test did not run")
	}
	if databaseExists(t, name) {
		t.Errorf("database %s still exists after its test ended", name)
	}
	if err := leftOpen.Ping(ctx); err == nil {
		t.Error("the connection left open survived the drop")
	}
}

func TestDatabasesAreFreshAndSeparate(t *testing.T) {
	ctx := context.Background()
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share URL %s", a)
	}
	if _, err := connect(t, a).Exec(ctx, "CREATE TABLE only_in_a (v int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := connect(t, b).QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("a new database has %d tables, want 0", n)
	}
}

func TestParallelDatabases(t *testing.T) {
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			var one int
			if err := connect(t, NewDatabase(t)).QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("SELECT 1 = %d, %v", one, err)
			}
		})
	}
}

func TestServerURLMayCreateDatabases(t *testing.T) {
	var may bool
	err := connect(t, ServerURL(t)).QueryRow(context.Background(),
		"SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&may)
	if err != nil {
		t.Fatal(err)
	}
	if !may {
		t.Error("the maintenance role cannot create databases")
	}
}

func TestDatabaseName(t *testing.T) {
	long := "TestSomething/with a very long subtest name that goes on and on and on"
	a, b := databaseName(long), databaseName(long)
	if a == b {
		t.Errorf("names not unique: %s", a)
	}
	if len(a) > 63 {
		t.Errorf("%s is %d bytes, over PostgreSQL's 63", a, len(a))
	}
	if !strings.HasPrefix(a, "t_testsomething_with_a_very_long") {
		t.Errorf("name %s does not say which test it is for", a)
	}
}

func TestSweepRemovesOnlyOldDeadDirs(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	old := time.Now().Add(-time.Hour)
	mk := func(name, pid string, mtime time.Time) string {
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(dir, "pgdata"), 0o755); err != nil {
			t.Fatal(err)
		}
		if pid != "" {
			if err := os.WriteFile(filepath.Join(dir, "pgdata", "postmaster.pid"), []byte(pid+"\n/x\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(dir, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	gone := []string{
		mk(dirPrefix+"clean", "", old),
		mk(dirPrefix+"crashed", strconv.Itoa(dead.Process.Pid), old),
	}
	kept := []string{
		mk(dirPrefix+"young", "", time.Now()),
		mk(dirPrefix+"live", strconv.Itoa(os.Getpid()), old),
		mk("unrelated", "", old),
	}
	sweep()
	for _, d := range gone {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s not swept (%v)", d, err)
		}
	}
	for _, d := range kept {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s swept: %v", d, err)
		}
	}
}
