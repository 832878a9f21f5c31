package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// readyEnv names the descriptor on which a background process reports
// "ready" or the error that stopped it (like libfuse's _FUSE_COMMFD).
const readyEnv = "_BOOTFS_READY_FD"

const readyLine = "ready\n"

// startBackground re-executes this program with args and -f as a new
// session with stdio on /dev/null (logs go to log_file or syslog), and
// returns once it reports the mount ready, or its error. This is what
// mount(8) expects: the mount exists when the command returns 0.
func startBackground(args []string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start the mount process: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = append(append([]string{os.Args[0]}, args...), "-f")
	cmd.Env = append(os.Environ(), readyEnv+"=3")
	cmd.ExtraFiles = []*os.File{w} // descriptor 3 in the child
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start the mount process: %w", err)
	}
	br := bufio.NewReader(r)
	first, _ := br.ReadString('\n')
	if first == readyLine {
		return cmd.Process.Release()
	}
	rest, _ := io.ReadAll(io.LimitReader(br, 64<<10))
	werr := cmd.Wait()
	if msg, ok := strings.CutPrefix(first+string(rest), "error: "); ok {
		return errors.New(strings.TrimSpace(msg))
	}
	return fmt.Errorf("the mount process exited before the mount was ready (%v); run with -f to see its log", werr)
}

// readyPipe is the background process's end of startBackground's pipe; a
// nil *readyPipe (a foreground run) ignores every call.
type readyPipe struct{ f *os.File }

// readyPipeFromEnv returns the pipe named by readyEnv, or nil.
func readyPipeFromEnv() *readyPipe {
	v := os.Getenv(readyEnv)
	if v == "" {
		return nil
	}
	os.Unsetenv(readyEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	syscall.CloseOnExec(fd)
	return &readyPipe{f: os.NewFile(uintptr(fd), "ready-pipe")}
}

func (p *readyPipe) ready() { p.send(readyLine) }

func (p *readyPipe) failed(err error) { p.send("error: " + err.Error() + "\n") }

func (p *readyPipe) send(msg string) {
	if p == nil || p.f == nil {
		return
	}
	_, _ = io.WriteString(p.f, msg) // the parent gone: nothing to tell
	p.f.Close()
	p.f = nil
}

// sdNotify sends state to systemd when run as a Type=notify service.
func sdNotify(log *slog.Logger, state string) {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return
	}
	if strings.HasPrefix(sock, "@") {
		sock = "\x00" + sock[1:] // abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		log.Warn("systemd notification failed", "state", state, "err", err)
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		log.Warn("systemd notification failed", "state", state, "err", err)
	}
}
