package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/simplestreams"
	regionsync "github.com/bootfs/bootfs/region/sync"
	"github.com/bootfs/bootfs/region/tree"
)

// FiletypeArchive is the ftype of bootloader archives upstream.
const FiletypeArchive = "archive.tar.xz"

// extractBootloaders turns every bootloader archive this region holds into
// member files (recorded as files of the same set, stored as blobs, and
// linked under bootloaders/<type>/<arch>/ in the store). Sets whose members
// are already recorded and held are skipped. A bad archive fails its
// product (a regionsync.ProductError); extraction goes on with the others.
func (im *Importer) extractBootloaders(ctx context.Context) error {
	snap, err := im.cfg.DB.Snapshot(ctx)
	if err != nil {
		return err
	}
	var errs []error
	held := snap.Held[im.cfg.RegionID]
	for i := range snap.Sets {
		set := &snap.Sets[i]
		if set.BootloaderType == "" {
			continue
		}
		for _, f := range set.Files {
			if f.Filetype != FiletypeArchive || held[f.SHA256] != f.Size {
				continue
			}
			if membersDone(set, f, held) {
				continue
			}
			if err := im.extractArchive(ctx, set, f); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				product, _ := f.Extra["product"].(string)
				errs = append(errs, &regionsync.ProductError{Product: product, Resource: set.Name,
					Architecture: set.Architecture, Version: set.Version, File: f.Filename,
					Err: fmt.Errorf("extract %s %s %s: %w", set.Name, set.Version, f.Filename, err)})
			}
		}
	}
	return errors.Join(errs...)
}

func membersDone(set *db.Set, archive db.File, held map[digest.Digest]int64) bool {
	n := 0
	for _, f := range set.Files {
		if f.Filetype == tree.FiletypeBootloader && f.Extra["archive"] == archive.SHA256.String() {
			if held[f.SHA256] != f.Size {
				return false
			}
			n++
		}
	}
	return n > 0
}

type member struct {
	name string
	sha  digest.Digest
	size int64
}

// extractArchive reads the archive twice: once to learn each member's
// digest (the store only accepts content whose digest is known up front),
// once to store the members. Archives are small, so this costs little and
// keeps memory bounded.
func (im *Importer) extractArchive(ctx context.Context, set *db.Set, archive db.File) error {
	var members []member
	err := im.walkArchive(archive.SHA256, func(name string, size int64, r io.Reader) error {
		h := digest.New()
		n, err := io.Copy(h, r)
		if err != nil {
			return err
		}
		members = append(members, member{name: name, sha: digest.FromHash(h), size: n})
		return nil
	})
	if err != nil {
		return err
	}
	if len(members) == 0 {
		return fmt.Errorf("archive %s has no files", archive.SHA256)
	}
	byName, err := flatMembers(members)
	if err != nil {
		return fmt.Errorf("archive %s: %w", archive.SHA256, err)
	}
	err = im.walkArchive(archive.SHA256, func(name string, size int64, r io.Reader) error {
		m, keep := byName[name]
		if !keep {
			return nil // the same bytes as a member kept under the same base name
		}
		blocks, err := im.cfg.Store.Put(ctx, m.sha, m.size, r)
		if err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
		rec := db.SetRecord{
			Name: set.Name, Architecture: set.Architecture, Kflavor: set.Kflavor, BootloaderType: set.BootloaderType,
			Version: set.Version, Label: set.Label,
			Files: []db.FileRecord{{
				Filename: path.Base(name), Filetype: tree.FiletypeBootloader, SHA256: m.sha, Size: m.size,
				Extra: map[string]any{"archive": archive.SHA256.String(), "member": name},
			}},
		}
		if _, err := im.cfg.DB.RecordSet(ctx, rec); err != nil {
			return err
		}
		if err := im.cfg.DB.SetBlockDigests(ctx, m.sha, digest.BlockSize, blocks); err != nil {
			return err
		}
		if err := im.cfg.DB.MarkHeld(ctx, im.cfg.RegionID, m.sha, m.size); err != nil {
			return err
		}
		arch, _, _ := strings.Cut(set.Architecture, "/")
		return im.cfg.Store.LinkBootloader(path.Join(set.BootloaderType, arch, path.Base(name)), m.sha)
	})
	if err != nil {
		return err
	}
	im.log.Info("bootloader extracted", "resource", set.Name, "architecture", set.Architecture,
		"version", set.Version, "files", len(members))
	return nil
}

// ErrDuplicateMember: two members of a bootloader archive would land on the
// same name in the flat bootloaders/<type>/<arch>/ directory with different
// bytes, so which one machines get would be arbitrary.
var ErrDuplicateMember = errors.New("bootloader archive has two different files with the same base name")

// flatMembers maps the archive member names to extract to their member.
// Members are extracted flat (by base name); a member with the base name of
// an earlier one and the same bytes is skipped, one with different bytes
// is an error naming both.
func flatMembers(members []member) (map[string]member, error) {
	byBase := make(map[string]member, len(members))
	keep := make(map[string]member, len(members))
	for _, m := range members {
		base := path.Base(m.name)
		if prev, dup := byBase[base]; dup {
			if prev.sha != m.sha || prev.size != m.size {
				return nil, fmt.Errorf("%w: %s and %s", ErrDuplicateMember, prev.name, m.name)
			}
			continue
		}
		byBase[base] = m
		keep[m.name] = m
	}
	return keep, nil
}

func (im *Importer) walkArchive(d digest.Digest, fn func(name string, size int64, r io.Reader) error) error {
	f, err := im.cfg.Store.Open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	return simplestreams.ExtractArchive(f, fn)
}
