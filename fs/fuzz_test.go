package fs

// Native fuzz targets for what the rack reads from a region: the tree JSON
// (decoded into wire.Tree exactly as rack/client does) and the snapshot
// built from it, held differentially to internal/pathrule, the region's
// rule for tree paths. Seeds are in testdata/fuzz/<Target>.

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pathrule"
	"github.com/bootfs/bootfs/internal/wire"
)

// FuzzTreePath: a path the region's rule accepts is one the rack builds
// into its tree, and a path the rack builds is one the region could have
// produced (pathrule.Path accepts it).
func FuzzTreePath(f *testing.F) {
	for _, p := range []string{
		"ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel", "bootx64.efi", "images/1a2b3c4", "a//b", "/a", "a/", "./a",
		"a/../b", "a\\b", "a\x00b", "a\nb", "\xff", strings.Repeat("x", 256), strings.Repeat("a/", 600) + "a",
	} {
		f.Add(p)
	}
	sha := digest.Of([]byte("x"))
	f.Fuzz(func(t *testing.T, p string) {
		_, ruleErr := pathrule.Path(p)
		tr, treeErr := buildTree(&wire.Tree{Files: []wire.Entry{{Path: p, SHA256: sha, Size: 1}}})
		// Built: the tree was taken and holds the entry (a tree may be
		// refused whole, or taken without its bad entries).
		built := treeErr == nil && tr.files == 1
		if ruleErr == nil && !built {
			t.Fatalf("the region's rule accepts %q but the rack leaves it out: %v", p, treeErr)
		}
		if ruleErr != nil && built {
			t.Fatalf("the rack builds %q into its tree but the region's rule refuses it: %v", p, ruleErr)
		}
	})
}

// FuzzTreeJSON decodes a tree as the rack client does and builds it. What
// the snapshot holds must be consistent whether the builder refuses a bad
// tree whole or leaves bad entries out: every file in it is an entry of the
// tree at its path, with its sha256 and size, under a path the region's
// rule accepts; every directory is listed in its parent and indexed; names
// are sorted; the counts add up.
func FuzzTreeJSON(f *testing.F) {
	sha := digest.Of([]byte("x")).String()
	f.Add([]byte(`{"generation":"g1","regions":[{"name":"r1","url":"http://r1:5240","alive":true}],"files":[` +
		`{"path":"ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel","sha256":"` + sha + `","size":5,"regions":["r1"]},` +
		`{"path":"bootx64.efi","sha256":"` + sha + `","size":5}]}`))
	f.Add([]byte(`{"files":[{"path":"a","sha256":"` + sha + `","size":1},{"path":"a/b","sha256":"` + sha + `","size":1}]}`))
	f.Add([]byte(`{"files":[{"path":"a","sha256":"` + sha + `","size":1},{"path":"b","sha256":"` + sha + `","size":2}]}`))
	f.Add([]byte(`{"files":[{"path":"a","sha256":"` + strings.ToUpper(sha) + `","size":-1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var w wire.Tree
		if err := json.Unmarshal(b, &w); err != nil {
			return
		}
		tr, err := buildTree(&w)
		if err != nil {
			return
		}
		if tr.generation != w.Generation {
			t.Fatalf("tree has generation %q, want %q", tr.generation, w.Generation)
		}
		// Find each entry's file node; count the distinct ones found.
		found := map[string]bool{}
		var total int64
		for _, e := range w.Files {
			comps := strings.Split(e.Path, "/")
			dir := tr.dirs[""]
			var node *fileInfo
			for i, c := range comps {
				k, ok := dir.kids[c]
				if !ok || (i < len(comps)-1 && k.dir == nil) {
					break
				}
				if i == len(comps)-1 {
					node = k.file
					break
				}
				dir = k.dir
			}
			if node == nil || found[e.Path] || node.path != e.Path || node.digest != e.SHA256 || node.size != e.Size {
				continue // left out, or a later duplicate of a path
			}
			found[e.Path] = true
			total += e.Size
			if _, err := pathrule.Path(e.Path); err != nil {
				t.Fatalf("%q is in the tree but the region's rule refuses it: %v", e.Path, err)
			}
			if e.Size < 0 || e.SHA256.IsZero() || node.ino < 2 {
				t.Fatalf("entry %+v in the tree with inode %d", e, node.ino)
			}
		}
		if len(found) != tr.files || tr.bytes != total {
			t.Fatalf("tree counts %d files of %d bytes; entries found in it: %d of %d bytes", tr.files, tr.bytes, len(found), total)
		}
		for p, d := range tr.dirs {
			if len(d.names) != len(d.kids) {
				t.Fatalf("dir %q lists %d names for %d children", p, len(d.names), len(d.kids))
			}
			subdirs := 0
			for i, n := range d.names {
				if i > 0 && d.names[i-1] >= n {
					t.Fatalf("dir %q names not sorted: %q", p, d.names)
				}
				k := d.kids[n]
				if (k.dir == nil) == (k.file == nil) {
					t.Fatalf("dir %q: child %q is neither or both a file and a directory", p, n)
				}
				if k.dir != nil {
					subdirs++
					if tr.dirs[k.dir.path] != k.dir {
						t.Fatalf("dir %q is not indexed", k.dir.path)
					}
				}
			}
			if subdirs != d.subdirs {
				t.Fatalf("dir %q counts %d subdirs, has %d", p, d.subdirs, subdirs)
			}
		}
	})
}
