package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pathrule"
	"github.com/bootfs/bootfs/internal/wire"
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
// are already recorded and held are skipped.
//
// An archive whose content is bad (not a tar.xz, an unsafe or duplicate
// member name, over a limit of simplestreams.ExtractArchive) is refused on
// its own: logged once, listed in Status, not read again, and the other
// archives are still extracted; it does not fail the import. Other errors
// (database, store) fail the archive's product (a regionsync.ProductError),
// after the remaining archives were tried.
func (im *Importer) extractBootloaders(ctx context.Context) error {
	snap, err := im.cfg.DB.Snapshot(ctx)
	if err != nil {
		return err
	}
	held := snap.Held[im.cfg.RegionID]
	refused := map[digest.Digest]wire.Refusal{} // this pass's; replaces the last pass's when it completes
	var errs []error
	for i := range snap.Sets {
		set := &snap.Sets[i]
		if set.BootloaderType == "" {
			continue
		}
		for _, f := range set.Files {
			if f.Filetype != FiletypeArchive || held[f.SHA256] != f.Size {
				continue
			}
			if w, ok := im.refused.archive(f.SHA256); ok {
				refused[f.SHA256] = w // refused before: the same bytes fail the same way
				continue
			}
			if membersDone(set, f, held) {
				continue
			}
			err := im.extractArchive(ctx, set, f)
			switch {
			case err == nil:
			case ctx.Err() != nil:
				return ctx.Err()
			case badArchive(err):
				w := wire.Refusal{Product: set.Name + " " + set.Architecture, Version: set.Version, Item: f.Filename,
					Reason: fmt.Sprintf("bootloader archive %s (sha256 %s): %v", f.Filename, f.SHA256, err)}
				if p, ok := f.Extra["product"].(string); ok && p != "" {
					w.Product = p
				}
				im.log.Warn("bootloader archive refused; other archives are still extracted",
					"resource", set.Name, "architecture", set.Architecture, "version", set.Version,
					"archive", f.Filename, "sha256", f.SHA256, "err", err)
				refused[f.SHA256] = w
			default: // the database or the store: fails this product, the others go on
				product, _ := f.Extra["product"].(string)
				errs = append(errs, &regionsync.ProductError{Product: product, Resource: set.Name,
					Architecture: set.Architecture, Version: set.Version, File: f.Filename,
					Err: fmt.Errorf("extract %s %s %s: %w", set.Name, set.Version, f.Filename, err)})
			}
		}
	}
	im.refused.setArchives(refused)
	return errors.Join(errs...)
}

// badArchive reports whether err is about the archive's content, which no
// retry can fix, rather than about the database or the store.
func badArchive(err error) bool {
	for _, e := range []error{simplestreams.ErrFormat, simplestreams.ErrUnsafePath, simplestreams.ErrUnknownFormat,
		simplestreams.ErrLimit, ErrDuplicateMember, pathrule.ErrInvalid, errEmptyArchive} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// errEmptyArchive: a bootloader archive without a regular file.
var errEmptyArchive = errors.New("bootloader archive has no files")

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
		return fmt.Errorf("%w: %s", errEmptyArchive, archive.SHA256)
	}
	for _, m := range members {
		// Members land flat under bootloaders/<type>/<arch>/ and at the top
		// of the tree: their base names are tree path components.
		if err := pathrule.Component("bootloader member name", path.Base(m.name)); err != nil {
			return fmt.Errorf("archive %s member %q: %w", archive.SHA256, m.name, err)
		}
	}
	arch, _, _ := strings.Cut(set.Architecture, "/")
	if _, err := pathrule.Join([]string{"bootloader type", "arch"}, set.BootloaderType, arch); err != nil {
		return fmt.Errorf("bootloader set %s %s: %w", set.Name, set.Architecture, err)
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
