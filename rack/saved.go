package rack

import (
	"errors"
	iofs "io/fs"
	"path/filepath"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/reader"
)

// Files of the mount's own state in Config.CacheDir, beside the block
// cache's (which ignores them):
//
//	CacheDir/tree        the last tree a region sent (reader.SaveState format)
//	CacheDir/digests/    the block digest lists of files read (reader.DigestStore)
//
// With both, a mount started while no region answers comes up from the
// saved tree and serves every file the block cache holds.
const (
	savedTreeName = "tree"
	digestsDir    = "digests"
	// maxSavedTree bounds the saved tree file, as the client bounds a
	// tree's JSON.
	maxSavedTree = 64 << 20
)

// savedTree is the saved tree file's content.
type savedTree struct {
	Saved time.Time  `json:"saved"`
	Tree  *wire.Tree `json:"tree"`
}

func savedTreePath(cacheDir string) string { return filepath.Join(cacheDir, savedTreeName) }

// saveTree saves t (as a region sent it: it is applied through the same
// validation as a fresh one when loaded).
func saveTree(cacheDir string, t *wire.Tree) error {
	return reader.SaveState(savedTreePath(cacheDir), savedTree{Saved: time.Now().UTC(), Tree: t})
}

// loadTree returns the saved tree and when it was saved. A missing file is
// (nil, zero, nil); a damaged one is an error wrapping reader.ErrDamaged (the
// caller logs it and carries on as if there were none).
func loadTree(cacheDir string) (*wire.Tree, time.Time, error) {
	var s savedTree
	err := reader.LoadState(savedTreePath(cacheDir), &s, maxSavedTree)
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		return nil, time.Time{}, nil
	case err != nil:
		return nil, time.Time{}, err
	case s.Tree == nil:
		return nil, time.Time{}, errors.New("saved tree file holds no tree")
	}
	return s.Tree, s.Saved, nil
}
