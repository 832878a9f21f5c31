package pgembed

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"9.6", "10", true},
		{"10", "9.6", false},
		{"15", "16", true},
		{"16", "15", false},
		{"15", "15", false},
	} {
		if got := versionLess(c.a, c.b); got != c.want {
			t.Errorf("versionLess(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestFindBinDir(t *testing.T) {
	needBinaries(t)
	dir, err := FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if !hasServer(dir) {
		t.Errorf("FindBinDir = %s, which lacks initdb or postgres", dir)
	}
}

func TestLongStateDirMovesSocket(t *testing.T) {
	short := newLayout("/var/lib/bootfs")
	if short.socket != "/var/lib/bootfs/run" {
		t.Errorf("short dir socket = %s", short.socket)
	}
	long := "/srv/" + strings.Repeat("very-long-directory-name/", 5) + "state"
	a, b := newLayout(long), newLayout(long+"2")
	if !strings.Contains(a.socket, "/bootfs-pg-") {
		t.Errorf("long dir socket = %s, want a bootfs-pg- dir under the temp dir", a.socket)
	}
	if n := len(filepath.Join(a.socket, ".s.PGSQL.65535")); n > maxSocketPath {
		t.Errorf("socket path %d bytes long", n)
	}
	if a.socket == b.socket {
		t.Errorf("two state dirs share socket dir %s", a.socket)
	}
	if a.data != filepath.Join(long, "pgdata") {
		t.Errorf("data dir moved with the socket: %s", a.data)
	}
}

func TestApplyDefaults(t *testing.T) {
	o := Options{Dir: "rel", BinDir: "/x"}
	if err := o.applyDefaults(); err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(o.Dir) || o.Database != "bootfs" || o.User != "postgres" || o.Log == nil {
		t.Errorf("defaults not applied: %+v", o)
	}
	if err := (&Options{}).applyDefaults(); err == nil {
		t.Error("empty Dir accepted")
	}
	if err := (&Options{Dir: "/x", Port: 70000}).applyDefaults(); err == nil {
		t.Error("port 70000 accepted")
	}
}
