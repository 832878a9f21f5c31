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

// ErrInvalidTree is returned (wrapped, naming the offending path) by
// Root.Update for a tree it refuses.
var ErrInvalidTree = errors.New("invalid tree")

// maxNameLen is NAME_MAX: the kernel refuses longer path components.
const maxNameLen = 255

// baseTime is the mtime of directories and the origin of file mtimes
// (2000-01-01T00:00:00Z).
const baseTime = 946684800

// tree is one immutable snapshot of the boot tree. Nothing in it changes
// after buildTree returns; Update replaces the whole snapshot.
type tree struct {
	generation string
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

// buildTree validates w and builds its snapshot, or refuses it whole.
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
			return nil, fmt.Errorf("%w: %q: %w", ErrInvalidTree, e.Path, err)
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
	sizes[e.SHA256] = e.Size

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

// splitPath checks a tree path and returns its components.
func splitPath(p string) ([]string, error) {
	switch {
	case p == "":
		return nil, errors.New("empty path")
	case strings.HasPrefix(p, "/"):
		return nil, errors.New("absolute path")
	case strings.IndexByte(p, 0) >= 0:
		return nil, errors.New("NUL byte in path")
	}
	comps := strings.Split(p, "/")
	for _, c := range comps {
		switch {
		case c == "":
			return nil, errors.New("empty path component")
		case c == "." || c == "..":
			return nil, fmt.Errorf("%q path component", c)
		case len(c) > maxNameLen:
			return nil, fmt.Errorf("path component longer than %d bytes", maxNameLen)
		}
	}
	return comps, nil
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
