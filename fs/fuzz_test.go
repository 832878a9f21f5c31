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
		_, treeErr := buildTree(&wire.Tree{Files: []wire.Entry{{Path: p, SHA256: sha, Size: 1}}})
		if ruleErr == nil && treeErr != nil {
			t.Fatalf("the region's rule accepts %q but the rack refuses it: %v", p, treeErr)
		}
		if ruleErr != nil && treeErr == nil {
			t.Fatalf("the rack builds %q into its tree but the region's rule refuses it: %v", p, ruleErr)
		}
	})
}

// FuzzTreeJSON decodes a tree as the rack client does and builds it; a
// tree accepted must be consistent: every file reachable at its path, every
// directory listed in its parent, sorted names, counts that add up.
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
		if tr.generation != w.Generation || tr.files != len(w.Files) {
			t.Fatalf("tree has generation %q and %d files, want %q and %d", tr.generation, tr.files, w.Generation, len(w.Files))
		}
		var total int64
		for _, e := range w.Files {
			total += e.Size
			if e.Size < 0 || e.SHA256.IsZero() {
				t.Fatalf("entry %+v accepted", e)
			}
			comps := strings.Split(e.Path, "/")
			dir := tr.dirs[""]
			for i, c := range comps {
				k, ok := dir.kids[c]
				if !ok {
					t.Fatalf("%q: component %d missing", e.Path, i)
				}
				if i == len(comps)-1 {
					if k.file == nil || k.file.digest != e.SHA256 || k.file.size != e.Size || k.file.ino < 2 {
						t.Fatalf("%q: file node %+v", e.Path, k.file)
					}
					break
				}
				if k.dir == nil {
					t.Fatalf("%q: component %d is not a directory", e.Path, i)
				}
				dir = k.dir
			}
		}
		if tr.bytes != total {
			t.Fatalf("tree counts %d bytes, entries add up to %d", tr.bytes, total)
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
				if d.kids[n].dir != nil {
					subdirs++
					if tr.dirs[d.kids[n].dir.path] != d.kids[n].dir {
						t.Fatalf("dir %q is not indexed", d.kids[n].dir.path)
					}
				}
			}
			if subdirs != d.subdirs {
				t.Fatalf("dir %q counts %d subdirs, has %d", p, d.subdirs, subdirs)
			}
		}
	})
}
