package cache

import (
	"container/list"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bootfs/bootfs/internal/digest"
)

// The LRU is a container/list threaded through the index entries rather than
// hashicorp/golang-lru: that package bounds the number of entries, not their
// bytes, locks internally (we need one lock around index, LRU and byte
// accounting anyway), and offers no cheap in-order walk for persisting the
// order. The list gives O(1) touch, removal and eviction with the element
// stored in the entry.

const (
	chunkSize = 64 << 10
	maxChunks = digest.BlockSize / chunkSize
	allChunks = 1<<maxChunks - 1

	blocksDir = "blocks"
	indexName = "index"
	lockName  = "lock"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entry is one cached block. Its mutable fields are guarded by Cache.mu;
// reads work on a copy taken under it.
type entry struct {
	key     Key
	gen     uint64
	size    int64
	crcs    [maxChunks]uint32 // CRC32C of each chunkSize piece of the block
	trusted uint32            // bit i: chunk i written or verified by this process
	synced  bool              // file and directory entry fsynced
	path    string            // the block file, from Cache.path
	elem    *list.Element

	// The descriptor kept open between reads (fds.go).
	fd      int
	fdState uint8
	fdRefs  int           // reads using fd
	fdElem  *list.Element // in Cache.fdLRU while fdState == fdCached
}

// chunks returns how many chunks a block of size bytes has.
func chunks(size int64) int { return int((size + chunkSize - 1) / chunkSize) }

// chunkCRCs computes the CRC32C of each chunk of data.
func chunkCRCs(data []byte) (out [maxChunks]uint32) {
	for i := 0; i*chunkSize < len(data); i++ {
		out[i] = crc32.Checksum(data[i*chunkSize:min((i+1)*chunkSize, len(data))], castagnoli)
	}
	return out
}

// name returns the block file's name: <sha256hex>-<index>-<gen>.
func (e *entry) name() string {
	return e.key.File.String() + "-" + strconv.FormatInt(e.key.Index, 10) + "-" + strconv.FormatUint(e.gen, 10)
}

// path returns the block file's path (entries keep it in entry.path).
func (c *Cache) path(e *entry) string {
	return filepath.Join(c.dir, blocksDir, e.key.File.Short(2), e.name())
}

// parseName is the inverse of entry.name.
func parseName(name string) (Key, uint64, error) {
	parts := strings.Split(name, "-")
	if len(parts) != 3 {
		return Key{}, 0, fmt.Errorf("block file name %q: want <sha256>-<index>-<gen>", name)
	}
	d, err := digest.Parse(parts[0])
	if err != nil {
		return Key{}, 0, fmt.Errorf("block file name %q: %w", name, err)
	}
	idx, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || idx < 0 {
		return Key{}, 0, fmt.Errorf("block file name %q: bad index", name)
	}
	gen, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return Key{}, 0, fmt.Errorf("block file name %q: bad generation", name)
	}
	return Key{File: d, Index: idx}, gen, nil
}

// insertLocked adds e as the most recently used entry. Its bytes must
// already be counted in c.used. Caller holds c.mu.
func (c *Cache) insertLocked(e *entry) {
	e.elem = c.lru.PushFront(e)
	c.entries[e.key] = e
	c.files[e.key.File]++
	c.dirty = true
}

// touchLocked marks e most recently used. Caller holds c.mu.
func (c *Cache) touchLocked(e *entry) {
	if c.lru.Front() != e.elem {
		c.lru.MoveToFront(e.elem)
		c.dirty = true
	}
}

// removeLocked drops e from the index and returns the path of its file,
// which the caller unlinks after releasing c.mu (names are never reused, so
// the delay is harmless). Caller holds c.mu.
func (c *Cache) removeLocked(e *entry) string {
	c.lru.Remove(e.elem)
	delete(c.entries, e.key)
	if c.files[e.key.File]--; c.files[e.key.File] == 0 {
		delete(c.files, e.key.File)
	}
	c.used -= e.size
	c.dirty = true
	c.dropFDLocked(e)
	return e.path
}

// evictLocked evicts least recently used entries until need more bytes fit
// within the limit, and returns the files to unlink. Caller holds c.mu.
func (c *Cache) evictLocked(need int64) []string {
	var paths []string
	for c.used+need > c.limit {
		back := c.lru.Back()
		if back == nil {
			break // only reservations of puts in flight remain
		}
		paths = append(paths, c.removeLocked(back.Value.(*entry)))
		c.evictions.Add(1)
	}
	return paths
}

// current returns the live entry for k if it is still generation gen.
// Caller holds c.mu.
func (c *Cache) currentLocked(k Key, gen uint64) *entry {
	if e := c.entries[k]; e != nil && e.gen == gen {
		return e
	}
	return nil
}

// unlink removes block files, counting and logging failures other than the
// file being gone already.
func (c *Cache) unlink(paths []string) {
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.diskErrors.Add(1)
			c.log.Warn("cannot remove cached block", slog.String("path", p), slog.Any("err", err))
		}
	}
}
