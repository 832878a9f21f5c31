package importer

import (
	"context"
	"errors"
	"fmt"

	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/simplestreams"
)

// syncMetadata reads every source and records the newest version of each
// selected product. A source that fails is reported; the others still count.
func (im *Importer) syncMetadata(ctx context.Context) error {
	srcs, err := im.cfg.DB.Sources(ctx)
	if err != nil {
		return fmt.Errorf("list sources: %w", err)
	}
	if len(srcs) == 0 {
		im.log.Warn("no boot sources configured; add one with `bootfs-region sources add URL`")
		return nil
	}
	var errs []error
	for _, src := range srcs {
		n, err := im.syncSource(ctx, src)
		if err != nil {
			errs = append(errs, fmt.Errorf("source %s: %w", src.URL, err))
			continue
		}
		im.log.Info("source read", "url", src.URL, "sets", n)
	}
	return errors.Join(errs...)
}

func (im *Importer) syncSource(ctx context.Context, src db.Source) (int, error) {
	latest, err := simplestreams.Load(ctx, im.cfg.HTTP, simplestreams.Source{
		URL: src.URL, Keyring: src.Keyring, Unsigned: src.Unsigned,
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range latest {
		if !selected(src.Selections, l.Product) {
			continue
		}
		rec, err := setRecord(src.URL, l)
		if err != nil {
			return n, err
		}
		if _, err := im.cfg.DB.RecordSet(ctx, rec); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func selected(sels []db.Selection, p simplestreams.Product) bool {
	for _, s := range sels {
		sel := simplestreams.Selection{OS: s.OS, Release: s.Release, Arches: s.Arches, Subarches: s.Subarches, Labels: s.Labels}
		if sel.Matches(p) {
			return true
		}
	}
	return false
}

// setRecord maps a product version to MAAS's resource naming: images are
// <os>/<release> for <arch>/<subarch>; bootloaders <os>/<type> for <arch>/generic.
func setRecord(root string, l simplestreams.Latest) (db.SetRecord, error) {
	p := l.Product
	rec := db.SetRecord{Version: l.Version, Label: p.Label, Kflavor: p.Kflavor}
	if rec.Label == "" {
		rec.Label = "stable"
	}
	if p.BootloaderType != "" {
		rec.Name = p.OS + "/" + p.BootloaderType
		rec.Architecture = p.Arch + "/generic"
		rec.BootloaderType = p.BootloaderType
	} else {
		if p.OS == "" || p.Release == "" || p.Arch == "" || p.Subarch == "" {
			return rec, fmt.Errorf("product %s lacks os, release, arch or subarch", p.ID)
		}
		rec.Name = p.OS + "/" + p.Release
		rec.Architecture = p.Arch + "/" + p.Subarch
	}
	for _, it := range l.Items {
		u, err := simplestreams.ItemURL(root, it.Path)
		if err != nil {
			return rec, fmt.Errorf("product %s version %s item %s: %w", p.ID, l.Version, it.Name, err)
		}
		rec.Files = append(rec.Files, db.FileRecord{
			Filename: it.Name, Filetype: it.Ftype, SHA256: it.SHA256, Size: it.Size, SourceURL: u,
			Extra: map[string]any{"product": p.ID, "path": it.Path},
		})
	}
	return rec, nil
}
