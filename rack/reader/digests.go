package reader

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// DigestStore keeps the block digest lists of cached files on disk, so that
// a rack restarted while no region answers can still serve what its block
// cache holds (a read needs the list of the file it reads):
//
//	Dir/ab/<sha256hex>        one list (SaveState format), ab its first two digits
//	Dir/ab/<sha256hex>.ok     the cached file was found to hash to its sha256
//	                          (Reader whole-file check; cleared when a block is fetched)
//
// A list is written once, when the Reader first gets it from a region, and
// is checked on load: a file that is damaged or describes another file is
// logged, removed and treated as missing. Methods are safe for concurrent
// use (each file is replaced atomically).
type DigestStore struct {
	dir string
	log *slog.Logger
}

// maxDigestFile bounds a list file: 32 MiB is ~450,000 blocks (a 450 GiB
// file), far beyond any boot file.
const maxDigestFile = 32 << 20

// NewDigestStore returns a store in dir (created when the first list is
// saved). log receives damaged files; nil discards.
func NewDigestStore(dir string, log *slog.Logger) *DigestStore {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DigestStore{dir: dir, log: log}
}

func (s *DigestStore) path(d digest.Digest) string {
	h := d.String()
	return filepath.Join(s.dir, h[:2], h)
}

// Load returns the stored list of d, or nil when there is none (or only a
// damaged one, which is logged and removed).
func (s *DigestStore) Load(d digest.Digest) *wire.BlockDigests {
	var bd wire.BlockDigests
	p := s.path(d)
	err := LoadState(p, &bd, maxDigestFile)
	if err == nil {
		err = CheckDigests(&bd, d)
	}
	switch {
	case err == nil:
		return &bd
	case errors.Is(err, iofs.ErrNotExist):
		return nil
	}
	s.log.Warn("stored block digests ignored and removed; the file's blocks are read from a region again", "path", p, "err", err)
	os.Remove(p)
	return nil
}

// Has reports whether a list of d is stored (not checking it).
func (s *DigestStore) Has(d digest.Digest) bool {
	_, err := os.Stat(s.path(d))
	return err == nil
}

// Save stores bd (already checked to describe its file).
func (s *DigestStore) Save(bd *wire.BlockDigests) error {
	return SaveState(s.path(bd.SHA256), bd)
}

// Forget removes the stored list of d and its check record, if any.
func (s *DigestStore) Forget(d digest.Digest) {
	s.ClearVerified(d)
	if err := os.Remove(s.path(d)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		s.log.Warn("cannot remove stored block digests", "sha256", d.String(), "err", err)
	}
}

// okSuffix names the whole-file check record of a file.
const okSuffix = ".ok"

// Verified reports whether d's cached content was recorded as matching d.
func (s *DigestStore) Verified(d digest.Digest) bool {
	_, err := os.Stat(s.path(d) + okSuffix)
	return err == nil
}

// MarkVerified records that d's cached content matches d. The record need
// not survive a crash (a crash leaves the cache unstamped, and the file is
// checked again).
func (s *DigestStore) MarkVerified(d digest.Digest) error {
	p := s.path(d) + okSuffix
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, nil, 0o644)
}

// ClearVerified removes d's record, if any.
func (s *DigestStore) ClearVerified(d digest.Digest) {
	if err := os.Remove(s.path(d) + okSuffix); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		s.log.Warn("cannot remove a whole-file check record", "sha256", d.String(), "err", err)
	}
}

// Prune removes the lists of files for which keep is false and returns how
// many it removed.
func (s *DigestStore) Prune(keep func(digest.Digest) bool) (int, error) {
	shards, err := os.ReadDir(s.dir)
	if errors.Is(err, iofs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sh := range shards {
		ents, err := os.ReadDir(filepath.Join(s.dir, sh.Name()))
		if err != nil {
			continue
		}
		for _, e := range ents {
			p := filepath.Join(s.dir, sh.Name(), e.Name())
			d, err := digest.Parse(strings.TrimSuffix(e.Name(), okSuffix))
			if err == nil && keep(d) {
				continue
			}
			if os.Remove(p) == nil {
				n++
			}
		}
	}
	return n, nil
}

// CheckDigests checks that bd is a list for d of the expected shape: its
// sha256, a known block digest algorithm (which it names canonically: ""
// is SHA-256), digest.BlockSize blocks, one digest per block of its size.
func CheckDigests(bd *wire.BlockDigests, d digest.Digest) error {
	// A list saved by an earlier release names no algorithm: SHA-256.
	algo, err := digest.CheckAlgorithm(bd.Algorithm)
	if err != nil {
		return err
	}
	bd.Algorithm = algo
	switch want := digest.BlockCount(bd.Size, digest.BlockSize); {
	case bd.SHA256 != d:
		return fmt.Errorf("block digests are for %s, not %s", bd.SHA256.Short(12), d.Short(12))
	case bd.BlockSize != digest.BlockSize:
		return fmt.Errorf("block size %d, want %d", bd.BlockSize, digest.BlockSize)
	case bd.Size < 0 || int64(len(bd.Blocks)) != want:
		return fmt.Errorf("%d block digests for %d bytes, want %d", len(bd.Blocks), bd.Size, want)
	}
	return nil
}
