package pgembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Server is a running private PostgreSQL. Its methods are safe for
// concurrent use.
type Server struct {
	o    Options
	l    layout
	as   *runAs // nil: postgres runs as this process's user
	port int
	log  *slog.Logger

	// Supervision tuning, fixed before supervise starts (tests shorten them).
	retry        backoff.BackOff // delays between restarts; Stop bounds consecutive restarts
	healthyAfter time.Duration   // a run this long resets the restart count
	stopTimeout  time.Duration   // fast-shutdown grace before escalating
	initNoSync   bool            // tests: initdb --no-sync (their clusters are thrown away)

	done   chan struct{} // closed when supervise returns
	stopCh chan struct{} // closed by the first Stop

	mu       sync.Mutex // guards cur, stopping, err
	cur      *proc      // the current (or last) postgres process
	stopping bool       // Stop has been called
	err      error      // why supervision gave up
}

// Start initialises the cluster on first use, starts postgres, waits until
// it accepts connections and creates Options.Database if missing. The
// server keeps running (supervised) until Stop; ctx bounds only the start.
func Start(ctx context.Context, o Options) (*Server, error) {
	s, err := newServer(o)
	if err != nil {
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// newServer applies defaults and resolves the user; it starts nothing.
func newServer(o Options) (*Server, error) {
	if err := o.applyDefaults(); err != nil {
		return nil, err
	}
	as, err := resolveUser(o.User)
	if err != nil {
		return nil, err
	}
	return &Server{
		o:            o,
		l:            newLayout(o.Dir),
		as:           as,
		log:          o.Log,
		retry:        restartBackOff(time.Second, 5),
		healthyAfter: 5 * time.Minute,
		stopTimeout:  30 * time.Second,
		done:         make(chan struct{}),
		stopCh:       make(chan struct{}),
	}, nil
}

// start does Start's work once s is built (tests shorten the supervision
// delays in between).
func (s *Server) start(ctx context.Context) error {
	if err := s.l.prepare(s.as); err != nil {
		return err
	}
	// Refuse a directory a live server already uses before anything is
	// chosen or written (choosePort rewrites the port file).
	if _, err := clearStaleLock(filepath.Join(s.l.data, "postmaster.pid"), s.l.data); err != nil {
		return err
	}
	port, err := s.l.choosePort(s.o.Port)
	if err != nil {
		return err
	}
	s.port = port
	if err := s.initCluster(ctx); err != nil {
		return err
	}
	if err := s.writeHBA(s.l.data); err != nil {
		return err
	}
	if err := s.ensureOwner(); err != nil {
		return err
	}
	p, err := s.spawn()
	if err != nil {
		return err
	}
	if err := s.waitReady(ctx, p); err != nil {
		_ = s.terminate(context.Background(), p) // the readiness error says more
		return err
	}
	if err := s.createDatabase(ctx); err != nil {
		_ = s.terminate(context.Background(), p)
		return err
	}
	s.cur = p
	go s.supervise()
	return nil
}

// URL is the connection URL of Options.Database, as the superuser, over the
// unix socket (the server listens on no TCP address).
func (s *Server) URL() string { return s.urlFor(s.o.Database) }

func (s *Server) urlFor(db string) string { return socketURL(s.l.socket, s.port, db) }

// socketURL is the URL of database db over the socket in dir named by port.
func socketURL(dir string, port int, db string) string {
	q := url.Values{"host": {dir}, "port": {strconv.Itoa(port)}, "sslmode": {"disable"}}
	u := url.URL{Scheme: "postgres", User: url.User(Superuser), Path: "/" + db, RawQuery: q.Encode()}
	return u.String()
}

// RunningURL is the URL of database db on the embedded server a running
// region started under state directory dir, read from its postmaster.pid
// (the port and the socket directory), if that file exists. Whether the
// server really runs is for the caller to find out.
func RunningURL(dir, db string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "pgdata", "postmaster.pid"))
	if err != nil {
		return "", false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 {
		return "", false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	sock := strings.TrimSpace(lines[4])
	if err != nil || port <= 0 || port > 65535 || !filepath.IsAbs(sock) {
		return "", false
	}
	return socketURL(sock, port, db), true
}

// Port is the port number naming the server's socket (.s.PGSQL.PORT); the
// server listens on no TCP port.
func (s *Server) Port() int { return s.port }

// SocketDir is the directory holding the server's unix socket.
func (s *Server) SocketDir() string { return s.l.socket }

// Done is closed when the server is gone for good: supervision gave up
// restarting it (Err says why) or Stop was called (Err is nil).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is why supervision gave up, or nil.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stop shuts postgres down and ends supervision: a fast shutdown, escalated
// to an immediate shutdown and then SIGKILL if it takes too long or ctx
// ends first. It returns once the process has exited; an error means the
// shutdown was not clean (the data is safe, postgres recovers at next start).
// Calling Stop again returns nil.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	first := !s.stopping
	s.stopping = true
	p := s.cur
	s.mu.Unlock()
	if !first {
		<-s.done
		return nil
	}
	close(s.stopCh)
	err := s.terminate(ctx, p)
	<-s.done
	return err
}

// restartBackOff is the restart schedule: first, doubling, no jitter (one
// process restarts, nobody to fall in step with), at most n restarts in a
// row (1s, 2s, 4s, 8s, 16s by default).
func restartBackOff(first time.Duration, n uint64) backoff.BackOff {
	return backoff.WithMaxRetries(backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(first),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0),
		backoff.WithMaxInterval(first<<n),
		backoff.WithMaxElapsedTime(0),
	), n)
}

// supervise restarts postgres when it exits on its own, with growing
// delays (s.retry); it gives up when the schedule stops.
func (s *Server) supervise() {
	defer close(s.done)
	failures := 0
	for {
		s.mu.Lock()
		p := s.cur
		s.mu.Unlock()
		<-p.exited
		if s.isStopping() {
			return
		}
		s.drain(p)
		if time.Since(p.started) >= s.healthyAfter {
			failures = 0
			s.retry.Reset()
		}
		delay := s.retry.NextBackOff()
		if delay == backoff.Stop {
			s.setErr(fmt.Errorf("postgres exited %d times in a row, giving up: %w: %s", failures+1, exitErr(p), p.recentOutput()))
			return
		}
		failures++
		s.log.Warn("postgres exited unexpectedly; restarting", "pid", p.pid, "err", exitErr(p), "attempt", failures, "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.stopCh:
			t.Stop()
			return
		}
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			return
		}
		np, err := s.spawn()
		if err != nil {
			np = exitedProc(err)
		}
		s.cur = np
		s.mu.Unlock()
	}
}

func (s *Server) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

func (s *Server) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// exitErr describes how p ended.
func exitErr(p *proc) error {
	if p.waitErr != nil {
		return p.waitErr
	}
	return errors.New("exited with status 0")
}
