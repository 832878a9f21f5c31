package fs

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pathrule"
	"github.com/bootfs/bootfs/internal/wire"
)

// ErrInvalidTree is returned by Root.Update for a nil tree, and wraps the
// Reason of every entry a tree's snapshot skipped (see Skipped).
var ErrInvalidTree = errors.New("invalid tree")

// maxNameLen is NAME_MAX: the kernel refuses longer path components
// (pathrule.MaxComponent is the same).
const maxNameLen = pathrule.MaxComponent

// Skipped is an entry of a tree that Update left out of the file system,
// and why. The rest of the tree is applied: one bad entry never keeps a
// stale tree or stops a mount.
type Skipped struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size"`
	// Reason wraps ErrInvalidTree (and pathrule.ErrInvalid for a bad path).
	Reason error `json:"-"`
	// Why is Reason's text, for JSON.
	Why string `json:"why"`
}

// baseTime is the mtime of directories and the origin of file mtimes
// (2000-01-01T00:00:00Z).
const baseTime = 946684800

// tree is one immutable snapshot of the boot tree. Nothing in it changes
// after buildTree returns; Update replaces the whole snapshot.
type tree struct {
	generation string
	// skipped are the entries of the wire tree left out, in tree order.
	skipped []Skipped
	// dirs maps a directory's slash-separated path ("" is the root) to it.
	dirs  map[string]*dirInfo
	files int
	bytes int64
}

// dirInfo is one directory of a snapshot.
type dirInfo struct {
	path    string
	ino     uint64
	kids    map[string]child
	names   []string // sorted names of kids
	subdirs int
}

// child is a directory entry: exactly one of file and dir is set.
type child struct {
	file *fileInfo
	dir  *dirInfo
}

// fileInfo is a file of a snapshot, and all there is to know about an inode:
// a fileInfo with the same ino is the same file.
type fileInfo struct {
	path   string
	digest digest.Digest
	size   int64
	ino    uint64
	mtime  uint64
}

// same reports whether a and b are the same entry for notification purposes:
// both directories (a directory's identity is its path), or the same file.
func (a child) same(b child) bool {
	switch {
	case a.dir != nil || b.dir != nil:
		return a.dir != nil && b.dir != nil
	default:
		return a.file.ino == b.file.ino && a.file.size == b.file.size
	}
}

func emptyTree() *tree {
	t, err := buildTree(&wire.Tree{})
	if err != nil {
		panic(err) // an empty tree is always valid
	}
	return t
}

// buildTree validates w and builds its snapshot of every valid entry: an
// entry that is bad on its own (path, size, sha256) or clashes with an
// earlier one (a duplicate path, a path that is a file and a directory,
// one sha256 with two sizes) is skipped and recorded in tree.skipped.
// Only a nil tree is refused.
func buildTree(w *wire.Tree) (*tree, error) {
	if w == nil {
		return nil, fmt.Errorf("%w: nil tree", ErrInvalidTree)
	}
	t := &tree{
		generation: w.Generation,
		dirs:       map[string]*dirInfo{"": newDirInfo("")},
	}
	sizes := make(map[digest.Digest]int64, len(w.Files))
	for _, e := range w.Files {
		if err := t.add(e, sizes); err != nil {
			reason := fmt.Errorf("%w: %q: %w", ErrInvalidTree, e.Path, err)
			sk := Skipped{Path: e.Path, Size: e.Size, Reason: reason, Why: reason.Error()}
			if !e.SHA256.IsZero() {
				sk.SHA256 = e.SHA256.String()
			}
			t.skipped = append(t.skipped, sk)
		}
	}
	for _, d := range t.dirs {
		d.names = make([]string, 0, len(d.kids))
		for name := range d.kids {
			d.names = append(d.names, name)
		}
		slices.Sort(d.names)
	}
	return t, nil
}

func newDirInfo(path string) *dirInfo {
	ino := uint64(1) // the root
	if path != "" {
		ino = hashIno("bootfs dir", nil, path)
	}
	return &dirInfo{path: path, ino: ino, kids: make(map[string]child)}
}

// add validates one entry and links it, creating its parent directories.
// An entry it refuses changes nothing (the directories it would create come
// after the last existing one, where no clash can happen).
func (t *tree) add(e wire.Entry, sizes map[digest.Digest]int64) error {
	comps, err := pathrule.Path(e.Path)
	if err != nil {
		return err
	}
	switch {
	case e.Size < 0:
		return fmt.Errorf("negative size %d", e.Size)
	case e.SHA256.IsZero():
		return errors.New("missing sha256")
	}
	if s, ok := sizes[e.SHA256]; ok && s != e.Size {
		return fmt.Errorf("sha256 %s listed with sizes %d and %d", e.SHA256.Short(12), s, e.Size)
	}

	dir := t.dirs[""]
	for i, name := range comps[:len(comps)-1] {
		c, ok := dir.kids[name]
		switch {
		case ok && c.file != nil:
			return fmt.Errorf("%q is a file and a directory", strings.Join(comps[:i+1], "/"))
		case ok:
			dir = c.dir
		default:
			sub := newDirInfo(strings.Join(comps[:i+1], "/"))
			dir.kids[name] = child{dir: sub}
			dir.subdirs++
			t.dirs[sub.path] = sub
			dir = sub
		}
	}
	name := comps[len(comps)-1]
	if c, ok := dir.kids[name]; ok {
		if c.dir != nil {
			return fmt.Errorf("%q is a file and a directory", e.Path)
		}
		return errors.New("duplicate path")
	}
	sizes[e.SHA256] = e.Size
	dir.kids[name] = child{file: &fileInfo{
		path:   e.Path,
		digest: e.SHA256,
		size:   e.Size,
		ino:    hashIno("bootfs file", e.SHA256[:], e.Path),
		mtime:  fileMtime(e.SHA256),
	}}
	t.files++
	t.bytes += e.Size
	return nil
}

// hashIno derives a stable inode number from a kind, an optional digest and
// a path. The result is 63 bits (some tools treat inode numbers as signed)
// and never 0 or 1 (0 is invalid, 1 is the root).
func hashIno(kind string, d []byte, path string) uint64 {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(d)
	h.Write([]byte(path))
	v := binary.BigEndian.Uint64(h.Sum(nil)) >> 1
	if v < 2 {
		v += 2
	}
	return v
}

// fileMtime derives a file's mtime (seconds) from its content: a second in
// [2000-01-01, 2008-07-04), stable everywhere and different for different
// content with overwhelming probability.
func fileMtime(d digest.Digest) uint64 {
	return baseTime + uint64(binary.BigEndian.Uint32(d[:4])>>4)
}
