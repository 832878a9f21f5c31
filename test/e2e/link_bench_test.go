//go:build bench

package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// Addresses of the shaped link's veth pair.
const (
	linkHostIP = "10.231.0.1"
	linkNsIP   = "10.231.0.2"
)

// shapedLink puts a network link of the given rate (tc rate, e.g. "10gbit")
// between the test's clients and target, a loopback address: a veth pair
// into a network namespace the test creates, the namespace's end shaped
// with tbf, and a TCP forwarder whose listener lives in that namespace and
// which relays to target from the host's. It returns the address clients
// dial; replies cross the shaped link as they would cross a rack's uplink.
func shapedLink(t *testing.T, target, rate string) string {
	t.Helper()
	ns := fmt.Sprintf("bootfs-link-%d", os.Getpid())
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", "bfl0").Run()
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v %s", ns, err, out)
		}
	})
	run(t, "ip", "link", "add", "bfl0", "type", "veth", "peer", "name", "bfl1", "netns", ns)
	run(t, "ip", "addr", "add", linkHostIP+"/30", "dev", "bfl0")
	run(t, "ip", "link", "set", "bfl0", "up")
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", linkNsIP + "/30", "dev", "bfl1"},
		{"link", "set", "bfl1", "up"},
	} {
		run(t, "ip", append([]string{"-n", ns}, args...)...)
	}
	// tbf needs a burst of at least rate/HZ; 16 MB covers 10 Gbit/s.
	run(t, "ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "bfl1", "root", "tbf",
		"rate", rate, "burst", "16mb", "latency", "100ms")

	ln := listenInNetns(t, ns, linkNsIP+":0")
	t.Cleanup(func() { ln.Close() })
	go forward(ln, target)
	return ln.Addr().String()
}

// listenInNetns opens a TCP listener inside network namespace ns: one OS
// thread enters ns, creates the socket and returns to the host's namespace.
func listenInNetns(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	type result struct {
		ln  net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// If returning to the host's namespace fails, the thread stays
		// locked and dies with this goroutine instead of being reused.
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: err}
			return
		}
		ln, lerr := net.Listen("tcp", addr)
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: errors.Join(lerr, err)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{ln, lerr}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("listen in %s: %v", ns, r.err)
	}
	return r.ln
}

// forward relays every connection accepted on ln to target until ln closes.
func forward(ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			d, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer d.Close()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(d, c)
				d.(*net.TCPConn).CloseWrite()
			}()
			io.Copy(c, d)
			c.(*net.TCPConn).CloseWrite()
			wg.Wait()
		}()
	}
}

// curlURL downloads blob sha from base with curl and returns the time.
func (g *rig) curlURL(t *testing.T, base string, sha digest.Digest) time.Duration {
	t.Helper()
	out, err := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{time_total}",
		"-H", "Authorization: Bearer "+g.regions[0].Secret, base+wire.PathBlobs+sha.String()).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(secs * float64(time.Second))
}

// benchColdOverLink: the cold sequential read of benchColdRead, with the
// region behind a shaped link (10 Gbit/s and 1 Gbit/s, a rack's uplink)
// instead of loopback, against curl of the same file over the same link.
func (g *rig) benchColdOverLink(t *testing.T, row func(...string)) {
	e := g.mustEntry(t, benchBig)
	target := strings.TrimPrefix(g.regions[0].URL(), "http://")
	for _, rate := range []string{"10gbit", "1gbit"} {
		t.Run(rate, func(t *testing.T) {
			base := "http://" + shapedLink(t, target, rate)
			runs := 3
			if rate == "1gbit" {
				runs = 1 // 9 s a read
			}
			var cold, curl []time.Duration
			for range runs {
				curl = append(curl, g.curlURL(t, base, e.SHA256))
				m := g.mount(t, mountSpec{source: base})
				d, n := readAll(t, m.path(benchBig))
				if n != e.Size {
					t.Fatalf("read %d of %d bytes", n, e.Size)
				}
				cold = append(cold, d)
				m.unmount(t)
				os.RemoveAll(m.cacheDir)
			}
			c, k := median(cold), median(curl)
			row(fmt.Sprintf("cold sequential read, %.2f GiB, region behind a %s link (tbf; median of %d)", float64(e.Size)/(1<<30), rate, runs),
				fmt.Sprintf("%s (%s)", c.Round(time.Millisecond), mbps(e.Size, c)),
				fmt.Sprintf("curl over the link %s (%s)", k.Round(time.Millisecond), mbps(e.Size, k)),
				fmt.Sprintf("%.2f", k.Seconds()/c.Seconds()), ">= 0.9")
		})
	}
}
