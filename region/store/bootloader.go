package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pathrule"
)

// Prefixes of our temporary files in Dir/.tmp.
const (
	tmpLinkPrefix     = "link-"
	tmpManifestPrefix = "manifest-"
)

// hardLink is os.Link; tests replace it to exercise the copy fallback.
var hardLink = os.Link

// LinkBootloader places blob dg at Dir/bootloaders/<rel> (rel like
// "uefi/amd64/bootx64.efi"; it is cleaned and must stay inside
// bootloaders/, else ErrInvalidPath) as a hard link, or a copy if the
// filesystem refuses the link. The new name appears atomically, replacing
// any earlier file there. ErrNotFound if dg is not stored. The link is
// recorded so that Reconcile can remove it once dg is gone, and Quarantine
// removes it with dg.
func (d *Disk) LinkBootloader(rel string, dg digest.Digest) error {
	clean, err := cleanRel(rel)
	if err != nil {
		return err
	}
	src := d.Path(dg)
	if _, err := d.Stat(dg); err != nil {
		return err
	}
	d.linkMu.Lock()
	defer d.linkMu.Unlock()
	parent, err := d.mkdirInside(path.Dir(clean))
	if err != nil {
		return err
	}
	tmp := d.tmpName(tmpLinkPrefix)
	if err := hardLink(src, tmp); err != nil {
		d.log.Debug("hard link refused; copying", "sha256", dg, "path", clean, "err", err)
		if err := d.copyFile(dg, src, tmp); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, filepath.Join(parent, path.Base(clean))); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("placing bootloader %s: %w", clean, err)
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	d.links[clean] = dg
	return d.saveManifestLocked()
}

// cleanRel cleans a slash-separated relative path and refuses one that is
// empty, absolute or climbs out, or whose components break the path rule
// (internal/pathrule).
func cleanRel(rel string) (string, error) {
	if rel == "" || path.IsAbs(rel) || strings.ContainsRune(rel, 0) {
		return "", fmt.Errorf("%w: bootloader path %q", ErrInvalidPath, rel)
	}
	c := path.Clean(rel)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: bootloader path %q leaves %s/", ErrInvalidPath, rel, bootloaderDir)
	}
	// The same rule as every tree path: the names become tree entries too.
	if _, err := pathrule.Path(c); err != nil {
		return "", fmt.Errorf("%w: bootloader path: %w", ErrInvalidPath, err)
	}
	return c, nil
}

// mkdirInside creates Dir/bootloaders/<rel> one component at a time and
// checks each is a real directory, so a symlink planted in the tree cannot
// lead the link outside the store.
func (d *Disk) mkdirInside(rel string) (string, error) {
	cur := filepath.Join(d.dir, bootloaderDir)
	comps := []string{""}
	if rel != "." {
		comps = append(comps, strings.Split(rel, "/")...)
	}
	for _, c := range comps {
		cur = filepath.Join(cur, c)
		if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("creating bootloader directory: %w", err)
		}
		fi, err := os.Lstat(cur)
		if err != nil {
			return "", fmt.Errorf("creating bootloader directory: %w", err)
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("%w: %s is not a directory", ErrInvalidPath, cur)
		}
	}
	return cur, nil
}

// linkPath returns where bootloader rel lives if every directory on the
// way is a real directory, not a symlink; if not, nothing of ours can be
// there and ok is false (removing through a symlink could hit a file
// outside the store).
func (d *Disk) linkPath(rel string) (p string, ok bool) {
	cur := filepath.Join(d.dir, bootloaderDir)
	parts := strings.Split(rel, "/")
	for _, c := range append([]string{""}, parts[:len(parts)-1]...) {
		cur = filepath.Join(cur, c)
		fi, err := os.Lstat(cur)
		if err != nil || !fi.IsDir() {
			return "", false
		}
	}
	return filepath.Join(cur, parts[len(parts)-1]), true
}

func (d *Disk) tmpName(prefix string) string {
	return filepath.Join(d.dir, tmpDir, prefix+strconv.FormatUint(rand.Uint64(), 36))
}

// copyFile copies src to a new file dst and fsyncs it.
func (d *Disk) copyFile(dg digest.Digest, src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying bootloader: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("copying bootloader: %w", err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(dst)
		}
	}()
	buf := getBuf()
	defer putBuf(buf)
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, *buf); err != nil {
		return d.wrapWriteErr(dg, fmt.Errorf("copying bootloader: %w", err))
	}
	if err := out.Sync(); err != nil {
		return d.wrapWriteErr(dg, fmt.Errorf("copying bootloader: %w", err))
	}
	return out.Close()
}

// unlinkBootloadersLocked removes every bootloader path made from dg.
// linkMu must be held.
func (d *Disk) unlinkBootloadersLocked(dg digest.Digest) error {
	var errs []error
	changed := false
	for rel, l := range d.links {
		if l != dg {
			continue
		}
		if p, ok := d.linkPath(rel); ok {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("removing bootloader: %w", err))
				continue
			}
			d.log.Info("removed bootloader link", "sha256", dg, "path", p)
		}
		delete(d.links, rel)
		changed = true
	}
	if changed {
		errs = append(errs, d.saveManifestLocked())
	}
	return errors.Join(errs...)
}

// loadManifest reads Dir/.bootloaders.json. A missing file is an empty
// manifest; an unreadable one is logged and treated as empty (the links
// it described are then left alone as foreign files).
func (d *Disk) loadManifest() (map[string]digest.Digest, error) {
	links := make(map[string]digest.Digest)
	b, err := os.ReadFile(filepath.Join(d.dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return links, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading bootloader manifest: %w", err)
	}
	if err := json.Unmarshal(b, &links); err != nil {
		d.log.Warn("ignoring unreadable bootloader manifest", "path", filepath.Join(d.dir, manifestName), "err", err)
		return make(map[string]digest.Digest), nil
	}
	return links, nil
}

// saveManifestLocked writes the manifest atomically. linkMu must be held.
func (d *Disk) saveManifestLocked() error {
	b, err := json.MarshalIndent(d.links, "", "\t")
	if err != nil {
		return fmt.Errorf("encoding bootloader manifest: %w", err)
	}
	tmp := d.tmpName(tmpManifestPrefix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("writing bootloader manifest: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(d.dir, manifestName))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing bootloader manifest: %w", err)
	}
	return syncDir(d.dir)
}
