package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/pin/tftp/v3"
)

// daemon starts a server in its own process group (so that tftpd-hpa's
// per-transfer children go with it) and stops it when the test ends. With
// netns set, it runs in that network namespace (nsenter enters only the
// network namespace: the process sees this mount namespace, FUSE mounts
// included). Its output goes to a file shown if the test fails.
func daemon(t *testing.T, netns, name string, args ...string) *exec.Cmd {
	t.Helper()
	if netns != "" {
		args = append([]string{"nsenter", "--net=/run/netns/" + netns, "--"}, args...)
	}
	out, err := os.CreateTemp(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			t.Logf("%s output:\n%s", name, b)
		}
	})
	return cmd
}

// startTFTPD runs Debian's in.tftpd, unmodified, in the foreground as root
// (it drops every request otherwise; it serves as user nobody), chrooted to
// root (--secure), with the packaging's map file, listening on addr.
func startTFTPD(t *testing.T, g *rig, netns, root, addr string) {
	t.Helper()
	daemon(t, netns, "in.tftpd", "/usr/sbin/in.tftpd", "--foreground", "--address", addr, "--secure",
		"--map-file", filepath.Join(g.repo, "packaging/tftpd-hpa/tftpd.map"), root)
}

// waitTFTP waits until a TFTP server at addr serves file.
func waitTFTP(t *testing.T, addr, file string) {
	t.Helper()
	testpoll.Until(t, 10*time.Second, fmt.Sprintf("TFTP server %s to serve %s", addr, file), func() bool {
		_, err := tftpGet(addr, file, 0)
		return err == nil
	})
}

// tftpGet reads file from a TFTP server with pin/tftp (blksize 0: 512).
func tftpGet(addr, file string, blksize int) ([]byte, error) {
	c, err := tftp.NewClient(addr)
	if err != nil {
		return nil, err
	}
	c.SetTimeout(2 * time.Second)
	c.SetRetries(3)
	if blksize > 0 {
		c.SetBlockSize(blksize)
	}
	wt, err := c.Receive(file, "octet")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// nginxSite returns the packaging's nginx site with its listen lines
// replaced by one on listen, its root by root, and extra added to the
// server block.
func nginxSite(t *testing.T, g *rig, root, listen, extra string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(g.repo, "packaging/nginx/bootfs-rack"))
	if err != nil {
		t.Fatal(err)
	}
	listenRE := regexp.MustCompile(`(?m)^(\s*)listen [^;]*;\n`)
	first := true
	site := listenRE.ReplaceAllStringFunc(string(b), func(line string) string {
		if !first {
			return ""
		}
		first = false
		return "    listen " + listen + ";\n"
	})
	if !strings.Contains(site, "root /var/lib/maas/boot;") {
		t.Fatal("the packaging nginx site does not serve /var/lib/maas/boot")
	}
	site = strings.ReplaceAll(site, "root /var/lib/maas/boot;", "root "+root+";")
	end := strings.LastIndex(site, "}")
	return site[:end] + extra + site[end:]
}

// startNginx runs the stock nginx with a private configuration (daemon off,
// user root, state in a temporary directory) holding site, and waits until
// it accepts connections on addr.
func startNginx(t *testing.T, netns, site, addr string) {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`daemon off;
user root;
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, site)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	daemon(t, netns, "nginx", "/usr/sbin/nginx", "-p", dir, "-c", path)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", b)
		}
	})
	if netns != "" {
		return // not reachable from here; the guest finds out
	}
	testpoll.Until(t, 10*time.Second, "nginx to listen on "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// freePort returns a loopback port nothing uses now, for network "tcp" or
// "udp".
func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
}

// run runs a command and returns its combined output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
