package migrate

import (
	"bytes"
	"maps"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a process writing and a test
// reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// `serve --legacy-database` is a daemon: it never asks. It copies the
// images and keeps every large object unless started with
// --legacy-database-yes, and then deletes only those verified on disk.
func TestServeConfirmsOnlyWithFlag(t *testing.T) {
	t.Parallel()
	bin := buildRegion(t)
	for _, yes := range []bool{false, true} {
		l := newSmallLegacy(t)
		r := newRegion(t, "", "region1", "")
		before := l.objects()
		args := []string{"serve", "--database-url", r.url, "--storage", r.store.Dir(), "--name", "region1",
			"--listen", "127.0.0.1:0", "--secret-file", filepath.Join(t.TempDir(), "secret"),
			"--import-interval", "0", "--verify-rate", "0", "--legacy-database", l.url}
		if yes {
			args = append(args, "--legacy-database-yes")
		}
		cmd := exec.Command(bin, args...)
		var log syncBuffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		eventually(t, time.Minute, "the migration to finish", func() bool {
			select {
			case err := <-exited:
				t.Fatalf("serve exited: %v\n%s", err, log.String())
			default:
			}
			return strings.Contains(log.String(), `msg="migration finished"`)
		})
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := <-exited; err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", err, log.String())
		}

		if final, _ := blobNames(t, r.store.Dir()); len(final) != 1 || final[0] != l.good {
			t.Errorf("yes=%v: store holds %v, want the good content", yes, final)
		}
		want := before
		if yes {
			want = map[string]string{l.corrupt: before[l.corrupt], l.incomplete: before[l.incomplete]}
		}
		if got := l.objects(); !maps.Equal(got, want) {
			t.Errorf("yes=%v: the legacy database holds\n%v\nwant\n%v\nlog:\n%s", yes, got, want, log.String())
		}
		if !yes && !strings.Contains(log.String(), "bootfs-region migrate --from-database URL --yes") {
			t.Errorf("serve without --legacy-database-yes does not say how to finish:\n%s", log.String())
		}
	}
}
