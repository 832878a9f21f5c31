package importer

import (
	"context"
	"errors"
	"fmt"

	"github.com/bootfs/bootfs/internal/pathrule"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/simplestreams"
)

// syncMetadata reads every source and records the newest version of each
// selected product. A source that fails is reported; the others still count.
// A selected product with bad metadata (a name that would become an unsafe
// tree path, an absurd size...) is refused on its own: logged once, listed
// in Status, and the rest of its source is imported.
//
// When several sources carry the same product (the same resource name and
// architecture), only one records it: the source of highest priority,
// whatever the versions; between equal priorities the newer version, then
// the source added first (see winners).
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
	var refused []wire.Refusal
	defer func() { im.refused.setMeta(refused) }()
	loads := make([]sourceLoad, len(srcs))
	for i, src := range srcs {
		loads[i].src = src
		loads[i].latest, loads[i].bad, loads[i].err = simplestreams.LoadAll(ctx, im.cfg.HTTP, simplestreams.Source{
			URL: src.URL, Keyring: src.Keyring, Unsigned: src.Unsigned,
		})
	}
	win := winners(loads)
	for i := range loads {
		l := &loads[i]
		if l.err != nil {
			errs = append(errs, fmt.Errorf("source %s: %w", l.src.URL, l.err))
			continue
		}
		n, lost, bad, err := im.syncSource(ctx, l, func(p simplestreams.Product) bool { return win[productKey(p)] == i })
		refused = append(refused, bad...)
		if err != nil {
			errs = append(errs, fmt.Errorf("source %s: %w", l.src.URL, err))
			continue
		}
		im.log.Info("source read", "url", l.src.URL, "sets", n, "refused", len(bad),
			"carried_by_a_preferred_source", lost)
	}
	return errors.Join(errs...)
}

// sourceLoad is one source's metadata as LoadAll read it.
type sourceLoad struct {
	src    db.Source
	latest []simplestreams.Latest
	bad    []simplestreams.Refusal
	err    error
}

// productKey names the resource a product becomes (name and architecture).
func productKey(p simplestreams.Product) string { return p.ResourceName() + " " + p.ResourceArch() }

// winners maps each product selected by some source to the index (in
// loads, which are in the order the sources were added) of the source that
// records it: the highest priority wins; between equal priorities the newer
// version, then the source added first.
func winners(loads []sourceLoad) map[string]int {
	win := map[string]int{}
	ver := map[string]string{}
	for i, l := range loads {
		if l.err != nil {
			continue
		}
		for _, lt := range l.latest {
			if !selected(l.src.Selections, lt.Product) {
				continue
			}
			k := productKey(lt.Product)
			j, seen := win[k]
			if seen {
				pj, pi := loads[j].src.Priority, l.src.Priority
				if pi < pj || (pi == pj && simplestreams.CompareVersions(lt.Version, ver[k]) <= 0) {
					continue
				}
			}
			win[k], ver[k] = i, lt.Version
		}
	}
	return win
}

// syncSource records the selected products of one loaded source that
// mine accepts (the others are carried by a preferred source: lost counts
// them).
func (im *Importer) syncSource(ctx context.Context, l *sourceLoad, mine func(simplestreams.Product) bool) (n, lost int, _ []wire.Refusal, _ error) {
	src := l.src
	var refused []wire.Refusal
	refuse := func(w wire.Refusal) {
		w.Source = src.URL
		im.log.Warn("product refused; the rest of the source is imported", "source", src.URL, "product", w.Product,
			"version", w.Version, "item", w.Item, "field", w.Field, "value", w.Value, "err", w.Reason)
		refused = append(refused, w)
	}
	for _, r := range l.bad {
		if !selectedRefusal(src.Selections, r) {
			im.log.Debug("unselected product refused", "source", src.URL, "product", r.Product.ID, "err", r.Err)
			continue
		}
		refuse(wire.Refusal{Product: r.Product.ID, Version: r.Version, Item: r.Item, Field: r.Field, Value: r.Value,
			Reason: r.Err.Error()})
	}
	for _, l := range l.latest {
		if !selected(src.Selections, l.Product) {
			continue
		}
		if !mine(l.Product) {
			im.log.Debug("product carried by a source of higher priority (or a newer version at equal priority)",
				"source", src.URL, "product", l.Product.ID, "version", l.Version)
			lost++
			continue
		}
		rec, err := setRecord(src.URL, l)
		if err != nil {
			var pe *pathError
			w := wire.Refusal{Product: l.Product.ID, Version: l.Version, Reason: err.Error()}
			if errors.As(err, &pe) {
				w.Item, w.Field, w.Value = pe.item, pe.field, pe.value
			}
			refuse(w)
			continue
		}
		if _, err := im.cfg.DB.RecordSet(ctx, rec); err != nil {
			return n, lost, refused, err
		}
		n++
	}
	return n, lost, refused, nil
}

// selectedRefusal reports whether a refused product is one the selections
// ask for, the offending field aside: a release "../x" is reported under a
// selection of release "noble", as the operator would otherwise not learn
// why the product is missing.
func selectedRefusal(sels []db.Selection, r simplestreams.Refusal) bool {
	for _, s := range sels {
		sel := simplestreams.Selection{OS: s.OS, Release: s.Release, Arches: s.Arches, Subarches: s.Subarches, Labels: s.Labels}
		switch r.Field {
		case "os":
			sel.OS = "*"
		case "release":
			sel.Release = "*"
		case "arch":
			sel.Arches = nil
		case "subarch":
			sel.Subarches = nil
		case "label":
			sel.Labels = nil
		}
		if sel.Matches(r.Product) {
			return true
		}
	}
	return false
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

// pathError is a setRecord error naming the field to blame.
type pathError struct {
	item, field, value string
	err                error
}

func (e *pathError) Error() string { return e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// setRecord maps a product version to MAAS's resource naming: images are
// <os>/<release> for <arch>/<subarch>; bootloaders <os>/<type> for <arch>/generic.
// Every part that becomes a tree path component is checked again with
// pathrule (simplestreams already did; this keeps the rule where rows are
// made, whatever the parser lets through).
func setRecord(root string, l simplestreams.Latest) (db.SetRecord, error) {
	p := l.Product
	rec := db.SetRecord{Version: l.Version, Label: p.Label, Kflavor: p.Kflavor}
	if rec.Label == "" {
		rec.Label = "stable"
	}
	check := func(item string, fields ...string) error {
		for i := 0; i+1 < len(fields); i += 2 {
			if err := pathrule.Component(fields[i], fields[i+1]); err != nil {
				return &pathError{item: item, field: fields[i], value: fields[i+1],
					err: fmt.Errorf("product %s version %s: %w", p.ID, l.Version, err)}
			}
		}
		return nil
	}
	if err := check("", "version", l.Version, "label", rec.Label); err != nil {
		return rec, err
	}
	if p.BootloaderType != "" {
		if err := check("", "os", p.OS, "arch", p.Arch, "bootloader-type", p.BootloaderType); err != nil {
			return rec, err
		}
		rec.Name = p.OS + "/" + p.BootloaderType
		rec.Architecture = p.Arch + "/generic"
		rec.BootloaderType = p.BootloaderType
	} else {
		if p.OS == "" || p.Release == "" || p.Arch == "" || p.Subarch == "" {
			return rec, fmt.Errorf("product %s lacks os, release, arch or subarch", p.ID)
		}
		if err := check("", "os", p.OS, "release", p.Release, "arch", p.Arch, "subarch", p.Subarch); err != nil {
			return rec, err
		}
		rec.Name = p.OS + "/" + p.Release
		rec.Architecture = p.Arch + "/" + p.Subarch
	}
	for _, it := range l.Items {
		if err := check(it.Name, "item name", it.Name); err != nil {
			return rec, err
		}
		if it.Size < 0 || it.Size > simplestreams.MaxItemSize {
			return rec, &pathError{item: it.Name, field: "size", value: fmt.Sprint(it.Size),
				err: fmt.Errorf("product %s version %s item %s: size %d out of range", p.ID, l.Version, it.Name, it.Size)}
		}
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
