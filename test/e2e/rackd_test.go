package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pin/tftp/v3"
)

// rackdEnv, when set, turns the test binary into a stand-in for MAAS
// rackd's own services on a rack whose image cache bootfs replaces (see
// TestMain): the value is a rackdConfig in JSON.
const rackdEnv = "BOOTFS_E2E_RACKD"

// rackdConfig says what the rackd stand-in serves. Like MAAS rackd it
// renders boot configs itself (here: serves them from a directory) and
// leaves boot files to the rack's HTTP server on port 5248.
type rackdConfig struct {
	// HTTP is the listen address of rackd's HTTP service (127.0.0.1:5249
	// on a MAAS rack): boot configs under /boot/, /log for boot events.
	HTTP string
	// TFTP is the listen address of its TFTP server; "" for none. Like
	// MAAS's rack TFTP server it answers configs found under Boot itself
	// and fetches every other name from Images + name.
	TFTP string
	// Images is the rack HTTP server's /images/ URL, with the slash.
	Images string
	// Boot is the directory of the boot configs.
	Boot string
	// Log is a file that gets one line per request: "log <X-Original-URI>",
	// "http <path> <status>" or "tftp <name> <status>".
	Log string
}

// startRackd runs the stand-in in network namespace ns ("" for this one)
// until the test ends, and returns a function that reads its request log.
func startRackd(t *testing.T, ns string, c rackdConfig) func() string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c.Log = filepath.Join(t.TempDir(), "rackd-requests.log")
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	daemon(t, ns, "rackd", "env", rackdEnv+"="+string(b), exe)
	return func() string {
		b, _ := os.ReadFile(c.Log)
		return string(b)
	}
}

// runRackd is the stand-in's main; it returns the exit status.
func runRackd(config string) int {
	var c rackdConfig
	if err := json.Unmarshal([]byte(config), &c); err != nil {
		fmt.Fprintf(os.Stderr, "rackd: %s: %v\n", rackdEnv, err)
		return 2
	}
	logf, err := os.OpenFile(c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rackd: %v\n", err)
		return 1
	}
	var mu sync.Mutex // guards logf
	record := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(logf, format+"\n", args...)
		fmt.Fprintf(os.Stderr, "rackd: "+format+"\n", args...)
	}

	errc := make(chan error, 2)
	mux := http.NewServeMux()
	mux.HandleFunc("/log", func(w http.ResponseWriter, r *http.Request) {
		record("log %s %s", r.Header.Get("X-Original-URI"), r.Header.Get("X-Original-Remote-IP"))
	})
	boot := http.StripPrefix("/boot/", http.FileServer(http.Dir(c.Boot)))
	mux.HandleFunc("/boot/", func(w http.ResponseWriter, r *http.Request) {
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		boot.ServeHTTP(rw, r)
		record("http %s %d", r.URL.Path, rw.status)
	})
	srv := &http.Server{Addr: c.HTTP, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { errc <- srv.ListenAndServe() }()

	if c.TFTP != "" {
		s := tftp.NewServer(func(name string, rf io.ReaderFrom) error {
			status, err := serveTFTP(c, name, rf)
			record("tftp %s %s", name, status)
			return err
		}, nil)
		s.SetTimeout(2 * time.Second)
		go func() { errc <- s.ListenAndServe(c.TFTP) }()
	}
	err = <-errc
	fmt.Fprintf(os.Stderr, "rackd: %v\n", err)
	return 1
}

// serveTFTP answers one TFTP read the way MAAS's rack TFTP server does: a
// boot config it renders (here: a file under c.Boot), anything else
// fetched over HTTP from the rack's /images/<name>.
func serveTFTP(c rackdConfig, name string, rf io.ReaderFrom) (string, error) {
	name = strings.TrimPrefix(name, "/")
	if strings.Contains(name, "..") {
		return "refused", errors.New("bad name")
	}
	if f, err := os.Open(filepath.Join(c.Boot, filepath.FromSlash(name))); err == nil {
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			rf.(tftp.OutgoingTransfer).SetSize(fi.Size())
			_, err := rf.ReadFrom(f)
			return "config", err
		}
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Get(c.Images + name)
	if err != nil {
		return "http error", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("http %d", resp.StatusCode), errors.New("file not found")
	}
	if resp.ContentLength >= 0 {
		rf.(tftp.OutgoingTransfer).SetSize(resp.ContentLength)
	}
	if _, err := rf.ReadFrom(resp.Body); err != nil {
		return "transfer error", err
	}
	return "http 200", nil
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
