package region

import (
	"context"
	"strings"

	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/simplestreams"
)

// retire applies the sources to the sets recorded from them: a set that no
// selection of any source picks any more (its source was removed, or the
// selections changed) is retired: it leaves the tree at once, nothing
// fetches its files, and cleanup deletes it CleanupGrace later on every
// region. A retired set picked again before then is restored. Sets of
// unknown origin (migrated) are left alone. It changes only rows, so it
// needs no lock; every region may run it, to the same effect.
//
// Priority: a set that a higher-priority source carries too (that source
// recorded a set of the same resource, selects it, and every region holds
// it, so that the resource never leaves the tree in between) is retired,
// whatever the versions: the higher-priority source's version is offered
// instead.
func (r *Region) retire(ctx context.Context) error {
	_, err := r.Retire(ctx)
	return err
}

// Retire is retire that returns how many sets it retired; the API calls
// it after a source changes, to say so.
func (r *Region) Retire(ctx context.Context) (int64, error) {
	srcs, err := r.db.Sources(ctx)
	if err != nil {
		return 0, err
	}
	sets, err := r.db.SourcedSets(ctx)
	if err != nil {
		return 0, err
	}
	complete, err := r.db.CompleteSets(ctx)
	if err != nil {
		return 0, err
	}
	uploaded, err := r.db.UploadedSetIDs(ctx)
	if err != nil {
		return 0, err
	}
	var gone, back []int64
	var goneNames []string
	for _, s := range sets {
		if uploaded[s.ID] {
			continue
		}
		switch p := picked(srcs, sets, complete, s); {
		case !p && !s.Retired:
			gone = append(gone, s.ID)
			goneNames = append(goneNames, s.Name+" "+s.Architecture+" "+s.Version)
		case p && s.Retired:
			back = append(back, s.ID)
		}
	}
	n, err := r.db.RetireSets(ctx, gone)
	if err != nil {
		return 0, err
	}
	retired := n
	if n > 0 {
		r.log.Info("retired sets no source selects any more; their files are deleted after the cleanup grace",
			"sets", strings.Join(goneNames, ", "), "grace", r.cfg.CleanupGrace)
	}
	if n, err = r.db.RestoreSets(ctx, back); err != nil {
		return retired, err
	}
	if n > 0 {
		r.log.Info("restored retired sets selected again", "sets", n)
	}
	return retired, nil
}

// picked reports whether any selection of any source picks set s, by the
// rule imports select products with (simplestreams.Selection), and no
// source of higher priority than s's claim carries the same resource (it
// recorded a set of it that its selections pick and that is complete on
// every region or was published). s's claim is the
// priority of the source that recorded it, if that source still selects
// it; otherwise the highest of the sources selecting it.
func picked(srcs []db.Source, sets []db.SourcedSet, complete map[int64]bool, s db.SourcedSet) bool {
	own, ok := claim(srcs, s)
	if !ok {
		return false
	}
	for _, t := range sets {
		if t.Name != s.Name || t.Architecture != s.Architecture || t.Source == s.Source || !complete[t.ID] {
			continue
		}
		for _, src := range srcs {
			if src.URL == t.Source && src.Priority > own && selects(src, t) {
				return false
			}
		}
	}
	return true
}

// claim returns the priority s is kept with, and whether any source
// selects it.
func claim(srcs []db.Source, s db.SourcedSet) (int, bool) {
	best, ok := 0, false
	for _, src := range srcs {
		if !selects(src, s) {
			continue
		}
		if src.URL == s.Source {
			return src.Priority, true
		}
		if !ok || src.Priority > best {
			best, ok = src.Priority, true
		}
	}
	return best, ok
}

// selects reports whether a selection of src picks set s.
func selects(src db.Source, s db.SourcedSet) bool {
	p := simplestreams.Product{Label: s.Label, BootloaderType: s.BootloaderType}
	p.OS, p.Release, _ = strings.Cut(s.Name, "/")
	p.Arch, p.Subarch, _ = strings.Cut(s.Architecture, "/")
	for _, sel := range src.Selections {
		if (simplestreams.Selection{OS: sel.OS, Release: sel.Release, Arches: sel.Arches,
			Subarches: sel.Subarches, Labels: sel.Labels}).Matches(p) {
			return true
		}
	}
	return false
}
