package cache

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/digest"
	"golang.org/x/sys/unix"
)

func TestPersistAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	a, b, cc := key("f", 0), key("f", 1), key("g", 7)
	data := map[Key][]byte{a: block(a, digest.BlockSize), b: block(b, 5000), cc: block(cc, 300000)}
	c := open(t, Options{Dir: dir})
	for _, k := range []Key{a, b, cc} {
		mustPut(t, c, k, data[k])
	}
	mustGet(t, c, a, data[a])
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c = open(t, Options{Dir: dir})
	// cc's file was never read from its first block, so it goes first;
	// then f's last block.
	if got, want := order(c), []Key{cc, b, a}; !slices.Equal(got, want) {
		t.Fatalf("order after reopen %v, want %v", got, want)
	}
	s := c.Stats()
	if s.Blocks != 3 || s.Files != 2 || s.Used != int64(len(data[a])+len(data[b])+len(data[cc])) {
		t.Fatalf("Stats after reopen = %+v", s)
	}
	for _, k := range []Key{b, cc, a} { // reads of loaded entries are checked
		mustGet(t, c, k, data[k])
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// A smaller limit at the next Open evicts in the saved order (cc, then
	// b) until the rest fits.
	c = open(t, Options{Dir: dir, Limit: digest.BlockSize})
	if got, want := order(c), []Key{a}; !slices.Equal(got, want) {
		t.Fatalf("order after reopen with a smaller limit %v, want %v", got, want)
	}
	if files := blockFiles(t, dir); len(files) != 1 {
		t.Fatalf("files on disk: %v", files)
	}
}

func TestOpenRemovesStraysAndDropsMissing(t *testing.T) {
	dir := t.TempDir()
	a, b := key("f", 0), key("g", 1)
	c := open(t, Options{Dir: dir})
	mustPut(t, c, a, block(a, 1000))
	mustPut(t, c, b, block(b, 2000))
	pa, _ := blockPath(t, c, a)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(pa); err != nil {
		t.Fatal(err)
	}
	strays := []string{
		filepath.Join(dir, filesDir, "00", "junk"),
		filepath.Join(dir, filesDir, "zz", "x"),
		filepath.Join(dir, filesDir, "file"),
		// well-formed name, not in the index
		filepath.Join(dir, filesDir, key("h", 0).File.Short(2), key("h", 0).File.String()),
		// the per-block layout of an older version
		filepath.Join(dir, oldBlocks, "ab", "x-0-1"),
	}
	for _, p := range strays {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("stray"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c = open(t, Options{Dir: dir})
	mustMiss(t, c, a)
	mustGet(t, c, b, block(b, 2000))
	if files := blockFiles(t, dir); len(files) != 1 {
		t.Fatalf("files on disk after Open: %v", files)
	}
	if s := c.Stats(); s.Blocks != 1 || s.Corrupt != 0 {
		t.Fatalf("Stats = %+v", s)
	}
	for _, p := range strays {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stray %s left: %v", p, err)
		}
	}
}

func TestGarbageIndex(t *testing.T) {
	for name, mangle := range map[string]func([]byte) []byte{
		"random":    func([]byte) []byte { return block(key("noise", 0), 5000) },
		"empty":     func([]byte) []byte { return nil },
		"truncated": func(b []byte) []byte { return b[:len(b)-7] },
		"flipped":   func(b []byte) []byte { b = bytes.Clone(b); b[40] ^= 1; return b },
		"extended":  func(b []byte) []byte { return append(bytes.Clone(b), 0) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			a := key("f", 0)
			c := open(t, Options{Dir: dir})
			mustPut(t, c, a, block(a, 1000))
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, indexName)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, mangle(b), 0o644); err != nil {
				t.Fatal(err)
			}
			c = open(t, Options{Dir: dir})
			if s := c.Stats(); s.Blocks != 0 || s.Used != 0 {
				t.Fatalf("Stats = %+v", s)
			}
			if files := blockFiles(t, dir); len(files) != 0 {
				t.Fatalf("block files left: %v", files)
			}
			mustMiss(t, c, a)
			mustPut(t, c, a, block(a, 1000))
			mustGet(t, c, a, block(a, 1000))
			// The bad index is replaced at the next Flush.
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			c = open(t, Options{Dir: dir})
			mustGet(t, c, a, block(a, 1000))
		})
	}
}

func TestIndexRoundTrip(t *testing.T) {
	recs := []record{
		{key: key("a", 0), gen: 3, size: digest.BlockSize, crcs: chunkCRCs(block(key("a", 0), digest.BlockSize))},
		{key: key("b", 9), gen: 1, size: 1, crcs: chunkCRCs([]byte{7})},
	}
	gen, got, _, err := decodeIndex(encodeIndex(4, recs, nil))
	if err != nil || gen != 4 || !slices.Equal(got, recs) {
		t.Fatalf("decode(encode) = %d, %v, %v", gen, got, err)
	}
	// A generation at or past nextGen is implausible.
	if _, _, _, err := decodeIndex(encodeIndex(3, recs, nil)); err == nil {
		t.Fatal("index with gen >= nextGen accepted")
	}
	dup := append(slices.Clone(recs), recs[0])
	if _, _, _, err := decodeIndex(encodeIndex(4, dup, nil)); err == nil {
		t.Fatal("index with a duplicate key accepted")
	}
}

// TestCrashBeforeFlush simulates a crash: the directory is released without
// a Flush after more puts and an evict-and-re-put of a flushed block. The
// next Open must free the blocks the last index does not name, and serve
// only bytes that pass the index's checks: a named block whose bytes were
// punched out is discarded at its first read.
func TestCrashBeforeFlush(t *testing.T) {
	dir := t.TempDir()
	// One file's blocks go highest index first.
	a, b, cc := key("f", 2), key("f", 1), key("f", 0)
	c := open(t, Options{Dir: dir, Limit: 2000})
	mustPut(t, c, a, block(a, 1000))
	mustPut(t, c, b, block(b, 1000))
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, cc, block(cc, 1000)) // evicts a
	mustMiss(t, c, a)
	mustPut(t, c, a, block(a, 1000)) // evicts b (punched); a is written again
	crash(t, c)

	c = open(t, Options{Dir: dir, Limit: 2000})
	// The index names a and b; cc's block is not named and is freed.
	if got, want := order(c), []Key{a, b}; !slices.Equal(got, want) {
		t.Fatalf("order after the crash %v, want %v", got, want)
	}
	mustGet(t, c, a, block(a, 1000))
	mustMiss(t, c, b) // punched: zeros fail the check
	if s := c.Stats(); s.Blocks != 1 || s.Corrupt != 1 {
		t.Fatalf("Stats = %+v", s)
	}
	if files := blockFiles(t, dir); len(files) != 1 {
		t.Fatalf("blocks on disk: %v, want only a's", files)
	}
	mustPut(t, c, b, block(b, 1000))
	crash(t, c) // nothing flushed since Open: the index still names a and b
	c = open(t, Options{Dir: dir, Limit: 2000})
	mustGet(t, c, a, block(a, 1000))
	mustGet(t, c, b, block(b, 1000)) // written again, checked: the same bytes
	if s := c.Stats(); s.Blocks != 2 || s.Corrupt != 0 {
		t.Fatalf("Stats = %+v", s)
	}
}

// crash releases c's directory lock without flushing, as a dead process
// would; c must not be used afterwards.
func crash(t *testing.T, c *Cache) {
	t.Helper()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	if err := c.lock.Close(); err != nil {
		t.Fatal(err)
	}
	c.closeOnce.Do(func() {})
}

// trustedBlocks returns the keys whose every chunk is trusted.
func trustedBlocks(c *Cache) map[Key]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[Key]bool)
	for k, e := range c.entries {
		if mask := uint32(1)<<chunks(e.size) - 1; e.trusted&mask == mask {
			out[k] = true
		}
	}
	return out
}

// TestTrustAcrossCleanReopen: blocks this process wrote are trusted after a
// clean Close and Open when their content file is untouched (its stamp in
// the index matches), and not when the file changed meanwhile or when some
// of its listed blocks were unchecked when the index was written.
func TestTrustAcrossCleanReopen(t *testing.T) {
	dir := t.TempDir()
	a, b, g := key("f", 0), key("f", 1), key("g", 0)
	c := open(t, Options{Dir: dir})
	for _, k := range []Key{a, b, g} {
		mustPut(t, c, k, block(k, 3000))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, Options{Dir: dir})
	if got := trustedBlocks(c); len(got) != 3 {
		t.Fatalf("trusted after a clean reopen: %v, want all three", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// f is changed through the filesystem: none of its blocks is trusted,
	// and the damage is found; g is still trusted.
	pf, off := blockPath(t, c, b)
	damage.FlipByte(t, pf, off+10)
	c = open(t, Options{Dir: dir})
	if got := trustedBlocks(c); len(got) != 1 || !got[g] {
		t.Fatalf("trusted after f changed: %v, want only g", got)
	}
	mustGet(t, c, a, block(a, 3000)) // checked, trusted again
	mustMiss(t, c, b)                // damaged: discarded
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// b was dropped and a checked: f is stamped again.
	c = open(t, Options{Dir: dir})
	if got := trustedBlocks(c); len(got) != 2 || !got[a] || !got[g] {
		t.Fatalf("trusted after the repair: %v, want a and g", got)
	}

	// One of f's listed blocks unchecked at Flush: no stamp for f.
	mustPut(t, c, b, block(b, 3000))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	damage.FlipByte(t, pf, off+10)
	damage.FlipByte(t, pf, off+10) // the same bytes, a new ctime
	c = open(t, Options{Dir: dir})
	mustGet(t, c, a, block(a, 3000))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, Options{Dir: dir})
	if got := trustedBlocks(c); len(got) != 1 || !got[g] {
		t.Fatalf("trusted with b unchecked at the last Flush: %v, want only g", got)
	}
}

// TestStampsOnlyFromClose: only Close stamps files, and Open rewrites the
// index without the stamps it used, so after a crash (here: the directory
// released without Close) nothing is trusted from stamps.
func TestStampsOnlyFromClose(t *testing.T) {
	dir := t.TempDir()
	a := key("f", 0)
	c := open(t, Options{Dir: dir})
	mustPut(t, c, a, block(a, 3000))
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	crash(t, c) // a periodic Flush, then a crash
	c = open(t, Options{Dir: dir})
	if got := trustedBlocks(c); len(got) != 0 {
		t.Fatalf("trusted after a crash: %v", got)
	}
	mustGet(t, c, a, block(a, 3000)) // checked
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, Options{Dir: dir})
	if got := trustedBlocks(c); !got[a] {
		t.Fatal("not trusted after a clean Close")
	}
	crash(t, c) // right after an Open that used the stamps
	c = open(t, Options{Dir: dir})
	if got := trustedBlocks(c); len(got) != 0 {
		t.Fatalf("trusted from stamps an Open had used, after a crash: %v", got)
	}
}

// TestFsyncFailureDiscards: blocks of a content file whose fsync failed are
// discarded (a later fsync may succeed without the lost pages) and the
// cache rests; other files are kept.
func TestFsyncFailureDiscards(t *testing.T) {
	c := open(t, Options{})
	a, b, g := key("f", 0), key("f", 1), key("g", 0)
	for _, k := range []Key{a, b, g} {
		mustPut(t, c, k, block(k, 3000))
	}
	bad, _ := blockPath(t, c, a)
	c.syncFile = func(p string) error {
		if p == bad {
			return &fs.PathError{Op: "fsync", Path: p, Err: unix.EIO}
		}
		return syncPath(p)
	}
	if err := c.Flush(); !errors.Is(err, unix.EIO) {
		t.Fatalf("Flush with a failing fsync: %v", err)
	}
	if c.Contains(a) || c.Contains(b) || !c.Contains(g) {
		t.Fatalf("after the failed fsync: a %v, b %v, g %v cached", c.Contains(a), c.Contains(b), c.Contains(g))
	}
	if s := c.Stats(); !s.Degraded || s.DiskErrors == 0 {
		t.Fatalf("Stats = %+v", s)
	}
	c.syncFile = syncPath
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}
