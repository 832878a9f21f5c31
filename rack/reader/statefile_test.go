package reader

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/bootfs/bootfs/internal/damage"
	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

func TestStateFileRoundTripAndDamage(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "state")
	in := wire.Tree{Generation: "g1", Files: []wire.Entry{{Path: "a", SHA256: digest.Of([]byte("a")), Size: 1}}}
	if err := SaveState(p, in); err != nil {
		t.Fatal(err)
	}
	var out wire.Tree
	if err := LoadState(p, &out, 1<<20); err != nil || out.Generation != "g1" || len(out.Files) != 1 || out.Files[0].SHA256 != in.Files[0].SHA256 {
		t.Fatalf("LoadState = %+v, %v", out, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(p)); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if err := LoadState(filepath.Join(dir, "none"), &out, 1<<20); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := LoadState(p, &out, 10); !errors.Is(err, ErrDamaged) {
		t.Errorf("oversized file: %v", err)
	}
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, damageIt := range map[string]func(){
		"flipped byte": func() { damage.FlipByte(t, p, 5) },
		"torn":         func() { os.WriteFile(p, good[:len(good)/2], 0o644) },
		"no trailer":   func() { os.WriteFile(p, good[:len(good)-80], 0o644) },
		"empty":        func() { os.WriteFile(p, nil, 0o644) },
	} {
		if err := os.WriteFile(p, good, 0o644); err != nil {
			t.Fatal(err)
		}
		damageIt()
		if err := LoadState(p, &out, 1<<20); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: LoadState = %v, want ErrDamaged", name, err)
		}
	}
}

func TestDigestStore(t *testing.T) {
	dir := t.TempDir()
	s := NewDigestStore(dir, nil)
	data := make([]byte, 2*digest.BlockSize+3)
	h := digest.NewHasher(digest.BlockSize)
	h.Write(data)
	d, blocks := h.Sum()
	bd := &wire.BlockDigests{SHA256: d, Size: int64(len(data)), BlockSize: digest.BlockSize, Blocks: blocks}
	if s.Load(d) != nil || s.Has(d) {
		t.Fatal("empty store has a list")
	}
	if err := s.Save(bd); err != nil {
		t.Fatal(err)
	}
	got := s.Load(d)
	if got == nil || got.Size != bd.Size || len(got.Blocks) != 3 || got.Blocks[2] != blocks[2] {
		t.Fatalf("Load = %+v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, d.String()[:2], d.String())); err != nil {
		t.Errorf("not stored at digests/ab/<sha256>: %v", err)
	}

	// A list stored under another file's name is ignored and removed.
	other := digest.Of([]byte("other"))
	if err := SaveState(s.path(other), bd); err != nil {
		t.Fatal(err)
	}
	if s.Load(other) != nil || s.Has(other) {
		t.Error("a list of another file was accepted")
	}
	// A damaged list is ignored and removed.
	damage.FlipByte(t, s.path(d), 10)
	if s.Load(d) != nil || s.Has(d) {
		t.Error("a damaged list was accepted or kept")
	}

	if err := s.Save(bd); err != nil {
		t.Fatal(err)
	}
	third := *bd
	third.SHA256 = digest.Of([]byte("third"))
	if err := s.Save(&third); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(func(x digest.Digest) bool { return x == d }); n != 1 || err != nil {
		t.Errorf("Prune = %d, %v", n, err)
	}
	if !s.Has(d) || s.Has(third.SHA256) {
		t.Error("Prune kept the wrong lists")
	}
	s.Forget(d)
	if s.Has(d) {
		t.Error("Forget kept the list")
	}
}
