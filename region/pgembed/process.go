package pgembed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one run of the postgres server process.
type proc struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
	exited  chan struct{} // closed once the process has been reaped
	waitErr error         // cmd.Wait's result; read only after exited is closed
	logDone chan struct{} // closed when its output pipe reached EOF

	mu   sync.Mutex // guards last
	last []string   // the last few output lines, for error messages
}

const keepLines = 20

// exitedProc stands for a start that failed: already exited with err.
func exitedProc(err error) *proc {
	p := &proc{started: time.Now(), exited: make(chan struct{}), logDone: make(chan struct{}), waitErr: err}
	close(p.exited)
	close(p.logDone)
	return p
}

// recentOutput returns the last lines postgres printed.
func (p *proc) recentOutput() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.last, "\n")
}

// serverArgs are the postgres command-line arguments: the data directory
// and settings that depend on this run, then Options.Settings.
func (s *Server) serverArgs() []string {
	settings := map[string]string{
		"listen_addresses":        "", // unix socket only: see hbaConf
		"port":                    strconv.Itoa(s.port),
		"unix_socket_directories": s.l.socket,
		"fsync":                   "on",
		"log_line_prefix":         "[%p] ",
	}
	for k, v := range s.o.Settings {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := []string{"-D", s.l.data}
	for _, k := range keys {
		args = append(args, "-c", k+"="+settings[k])
	}
	return args
}

// spawn clears stale lock files and starts postgres. It does not wait for
// the server to accept connections.
func (s *Server) spawn() (*proc, error) {
	if pid, err := clearStaleLock(filepath.Join(s.l.data, "postmaster.pid"), s.l.data); err != nil {
		return nil, err
	} else if pid != 0 {
		s.log.Info("removed stale postmaster.pid", "pid", pid, "path", s.l.data)
	}
	sockLock := filepath.Join(s.l.socket, ".s.PGSQL."+strconv.Itoa(s.port)+".lock")
	if _, err := clearStaleLock(sockLock, s.l.data); err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	cmd := exec.Command(filepath.Join(s.o.BinDir, "postgres"), s.serverArgs()...)
	cmd.Dir = s.l.data
	cmd.Env = serverEnv()
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = sysProcAttr(s.as)
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	w.Close()
	p := &proc{
		cmd:     cmd,
		pid:     cmd.Process.Pid,
		started: time.Now(),
		exited:  make(chan struct{}),
		logDone: make(chan struct{}),
	}
	go s.forward(p, r)
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	s.log.Info("started postgres", "pid", p.pid, "port", s.port, "path", s.l.data)
	return p, nil
}

// forward copies postgres's output lines to the log until every process
// holding the pipe (the postmaster and its children) has exited.
func (s *Server) forward(p *proc, r io.ReadCloser) {
	defer close(p.logDone)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		s.log.Log(context.Background(), serverLevel(line), "postgres output", "postgres", line)
		p.mu.Lock()
		p.last = append(p.last, line)
		if len(p.last) > keepLines {
			p.last = p.last[len(p.last)-keepLines:]
		}
		p.mu.Unlock()
	}
}

// terminate shuts p down: SIGINT (fast shutdown: roll back transactions,
// disconnect clients, checkpoint), then after stopTimeout or when ctx ends
// SIGQUIT (immediate shutdown), then SIGKILL to the whole process group.
// It returns once p is reaped and its output drained.
func (s *Server) terminate(ctx context.Context, p *proc) error {
	defer s.drain(p)
	select {
	case <-p.exited:
		return nil
	default:
	}
	signal(p, syscall.SIGINT)
	t := time.NewTimer(s.stopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	s.log.Warn("postgres did not finish a fast shutdown in time, requesting immediate shutdown", "pid", p.pid)
	signal(p, syscall.SIGQUIT)
	t2 := time.NewTimer(s.stopTimeout / 4)
	defer t2.Stop()
	select {
	case <-p.exited:
		return errors.New("postgres needed an immediate shutdown; it will run crash recovery at next start")
	case <-t2.C:
	}
	if err := syscall.Kill(-p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		signal(p, syscall.SIGKILL)
	}
	<-p.exited
	return errors.New("postgres did not shut down and was killed; it will run crash recovery at next start")
}

// drain waits a little for p's output to reach EOF, so nothing is logged
// after Stop returns.
func (s *Server) drain(p *proc) {
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.logDone:
	case <-t.C:
	}
}

func signal(p *proc, sig syscall.Signal) {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig) // fails only once it has exited
	}
}
