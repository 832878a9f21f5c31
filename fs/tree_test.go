package fs

import (
	"errors"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

func entry(path string, content string) wire.Entry {
	return wire.Entry{Path: path, SHA256: digest.Of([]byte(content)), Size: int64(len(content))}
}

func TestBuildTreeSkipsBadEntries(t *testing.T) {
	zero := wire.Entry{Path: "zero", Size: 1}
	tests := []struct {
		name  string
		files []wire.Entry
		path  string // must appear in the error
	}{
		{"dotdot", []wire.Entry{entry("a/../b", "x")}, `"a/../b"`},
		{"dot", []wire.Entry{entry("./b", "x")}, `"./b"`},
		{"empty component", []wire.Entry{entry("a//b", "x")}, `"a//b"`},
		{"trailing slash", []wire.Entry{entry("a/", "x")}, `"a/"`},
		{"absolute", []wire.Entry{entry("/etc/passwd", "x")}, `"/etc/passwd"`},
		{"empty path", []wire.Entry{entry("", "x")}, `""`},
		{"NUL", []wire.Entry{entry("a\x00b", "x")}, `"a\x00b"`},
		{"control character", []wire.Entry{entry("a\nb", "x")}, `"a\nb"`},
		{"backslash", []wire.Entry{entry(`a\b`, "x")}, `"a\\b"`},
		{"long name", []wire.Entry{entry(strings.Repeat("n", 256), "x")}, strings.Repeat("n", 256)},
		{"file then dir", []wire.Entry{entry("a", "x"), entry("a/b", "y")}, `"a/b"`},
		{"dir then file", []wire.Entry{entry("a/b", "y"), entry("a", "x")}, `"a"`},
		{"duplicate", []wire.Entry{entry("a", "x"), entry("a", "x")}, `"a"`},
		{"negative size", []wire.Entry{{Path: "neg", SHA256: digest.Of(nil), Size: -1}}, `"neg"`},
		{"missing sha256", []wire.Entry{zero}, `"zero"`},
		{"one sha two sizes", []wire.Entry{entry("a", "x"), {Path: "b", SHA256: digest.Of([]byte("x")), Size: 2}}, `"b"`},
	}
	good := entry("ok/file", "good")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The good entry, first or last, is applied all the same.
			for _, files := range [][]wire.Entry{append([]wire.Entry{good}, tc.files...), append(tc.files[:len(tc.files):len(tc.files)], good)} {
				tr, err := buildTree(&wire.Tree{Files: files})
				if err != nil {
					t.Fatalf("buildTree: %v", err)
				}
				if len(tr.skipped) != 1 {
					t.Fatalf("skipped %+v, want one entry", tr.skipped)
				}
				sk := tr.skipped[0]
				if !errors.Is(sk.Reason, ErrInvalidTree) || !strings.Contains(sk.Why, tc.path) {
					t.Errorf("skipped %+v: reason does not wrap ErrInvalidTree or name %s", sk, tc.path)
				}
				if tr.files != len(files)-1 || tr.dirs["ok"] == nil || tr.dirs["ok"].kids["file"].file == nil {
					t.Errorf("%d files applied, want %d with ok/file", tr.files, len(files)-1)
				}
				for p, d := range tr.dirs {
					if len(d.kids) == 0 && p != "" {
						t.Errorf("skipped entry left empty directory %q", p)
					}
				}
			}
		})
	}
	if _, err := buildTree(nil); !errors.Is(err, ErrInvalidTree) {
		t.Errorf("nil tree: err = %v, want ErrInvalidTree", err)
	}
}

func TestBuildTreeShape(t *testing.T) {
	w := &wire.Tree{Generation: "g1", Files: []wire.Entry{
		entry("bootx64.efi", "shim"),
		entry("bootloaders/uefi/amd64/bootx64.efi", "shim"),
		entry("ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel", "kernel"),
		entry("ubuntu/amd64/ga-22.04/jammy/stable/boot-initrd", "initrd"),
		entry("images/1a2b3c4", "kernel"),
		entry("empty", ""),
	}}
	tr, err := buildTree(w)
	if err != nil {
		t.Fatal(err)
	}
	if tr.files != 6 || tr.bytes != int64(4+4+6+6+6) || tr.generation != "g1" {
		t.Errorf("files=%d bytes=%d generation=%q", tr.files, tr.bytes, tr.generation)
	}
	wantDirs := []string{"", "bootloaders", "bootloaders/uefi", "bootloaders/uefi/amd64", "images",
		"ubuntu", "ubuntu/amd64", "ubuntu/amd64/ga-22.04", "ubuntu/amd64/ga-22.04/jammy",
		"ubuntu/amd64/ga-22.04/jammy/stable"}
	if len(tr.dirs) != len(wantDirs) {
		t.Errorf("%d dirs, want %d", len(tr.dirs), len(wantDirs))
	}
	for _, d := range wantDirs {
		if tr.dirs[d] == nil {
			t.Errorf("missing dir %q", d)
		}
	}
	root := tr.dirs[""]
	if got := strings.Join(root.names, ","); got != "bootloaders,bootx64.efi,empty,images,ubuntu" {
		t.Errorf("root names = %s", got)
	}
	if root.subdirs != 3 || root.ino != 1 {
		t.Errorf("root subdirs=%d ino=%d", root.subdirs, root.ino)
	}
}

func TestInodeNumbersAndMtimes(t *testing.T) {
	a := digest.Of([]byte("a"))
	b := digest.Of([]byte("b"))
	build := func(files ...wire.Entry) *tree {
		tr, err := buildTree(&wire.Tree{Files: files})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	t1 := build(wire.Entry{Path: "d/x", SHA256: a, Size: 1}, wire.Entry{Path: "d/y", SHA256: a, Size: 1})
	t2 := build(wire.Entry{Path: "d/x", SHA256: a, Size: 1}, wire.Entry{Path: "d/y", SHA256: b, Size: 1})
	x1, y1 := t1.dirs["d"].kids["x"].file, t1.dirs["d"].kids["y"].file
	x2, y2 := t2.dirs["d"].kids["x"].file, t2.dirs["d"].kids["y"].file
	if x1.ino != x2.ino {
		t.Error("unchanged (path, sha256) got a different inode number")
	}
	if y1.ino == y2.ino {
		t.Error("changed sha256 kept its inode number")
	}
	if x1.ino == y1.ino {
		t.Error("same content at two paths shares an inode number")
	}
	if t1.dirs["d"].ino != t2.dirs["d"].ino || t1.dirs["d"].ino < 2 {
		t.Errorf("dir inode %d/%d not stable", t1.dirs["d"].ino, t2.dirs["d"].ino)
	}
	if x1.mtime != y1.mtime || y1.mtime == y2.mtime {
		t.Error("mtime must follow the content")
	}
	for _, f := range []*fileInfo{x1, y1, x2, y2} {
		if f.ino>>63 != 0 || f.ino < 2 {
			t.Errorf("inode %d out of range", f.ino)
		}
		if f.mtime < baseTime || f.mtime >= baseTime+1<<28 {
			t.Errorf("mtime %d out of range", f.mtime)
		}
	}
}

func TestChangedNames(t *testing.T) {
	old, err := buildTree(&wire.Tree{Files: []wire.Entry{
		entry("same", "1"), entry("changed", "2"), entry("removed", "3"),
		entry("sub/f", "4"), entry("todir", "5"), entry("gone/f", "6"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := buildTree(&wire.Tree{Files: []wire.Entry{
		entry("same", "1"), entry("changed", "2b"), entry("added", "7"),
		entry("sub/f", "4b"), entry("todir/f", "5"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(changedNames(old.dirs[""], cur.dirs[""]), ",")
	if want := "added,changed,gone,removed,todir"; got != want {
		t.Errorf("changed names = %s, want %s", got, want)
	}
	if got := strings.Join(changedNames(old.dirs["sub"], cur.dirs["sub"]), ","); got != "f" {
		t.Errorf("sub changed names = %s, want f", got)
	}
}
