package e2e

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/testpoll"
)

// TestFDCountLeavesOutEstablished: the soak's fd count leaves out
// established TCP connections (idle keep-alives follow the load) but
// counts a listener, and a connection its peer closed (CLOSE_WAIT, what a
// leaked connection becomes).
func TestFDCountLeavesOutEstablished(t *testing.T) {
	pid := os.Getpid()
	before := fdCount(pid)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got := fdCount(pid); got != before+1 {
		t.Fatalf("fd count %d with a listener and an established pair, want %d (the listener only)", got, before+1)
	}
	s.Close() // c is now in CLOSE_WAIT
	testpoll.Until(t, 5*time.Second, "the dialled end counted once its peer closed", func() bool { return fdCount(pid) == before+2 })
}
