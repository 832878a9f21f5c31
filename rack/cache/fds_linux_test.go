package cache

import (
	"fmt"
	"os"
	"testing"
)

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestKeptDescriptors checks that at most the bound of content files stay open,
// that eviction of a file's last block closes its descriptor, and that
// Close leaves none behind.
func TestKeptDescriptors(t *testing.T) {
	before := openFDs(t)
	c, err := Open(Options{Dir: t.TempDir(), Limit: 6 * 1000})
	if err != nil {
		t.Fatal(err)
	}
	c.fds.SetMax(2)
	var keys []Key
	for i := range 6 {
		k := key(fmt.Sprint("f", i), 0)
		keys = append(keys, k)
		mustPut(t, c, k, block(k, 1000))
	}
	for _, k := range keys {
		mustGet(t, c, k, block(k, 1000))
		if n := c.fds.Len(); n > 2 {
			t.Fatalf("%d descriptors kept, max 2", n)
		}
	}
	// The lock file, and the two kept content files.
	if got := openFDs(t) - before; got != 1+2 {
		t.Fatalf("%d more descriptors open than before Open, want 3", got)
	}
	// Evicting the files' blocks closes their descriptors.
	for i := range 6 {
		k := key("g", int64(i))
		mustPut(t, c, k, block(k, 1000))
	}
	if got := openFDs(t) - before; got != 1 || c.fds.Len() != 0 {
		t.Fatalf("after eviction: %d more descriptors, %d kept", got, c.fds.Len())
	}
	mustGet(t, c, key("g", 0), block(key("g", 0), 1000))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := openFDs(t); got != before {
		t.Fatalf("%d descriptors open after Close, %d before Open", got, before)
	}
}
