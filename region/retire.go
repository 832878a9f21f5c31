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
func (r *Region) retire(ctx context.Context) error {
	srcs, err := r.db.Sources(ctx)
	if err != nil {
		return err
	}
	sets, err := r.db.SourcedSets(ctx)
	if err != nil {
		return err
	}
	uploaded, err := r.db.UploadedSetIDs(ctx)
	if err != nil {
		return err
	}
	var gone, back []int64
	var goneNames []string
	for _, s := range sets {
		if uploaded[s.ID] {
			continue
		}
		switch p := picked(srcs, s); {
		case !p && !s.Retired:
			gone = append(gone, s.ID)
			goneNames = append(goneNames, s.Name+" "+s.Architecture+" "+s.Version)
		case p && s.Retired:
			back = append(back, s.ID)
		}
	}
	n, err := r.db.RetireSets(ctx, gone)
	if err != nil {
		return err
	}
	if n > 0 {
		r.log.Info("retired sets no source selects any more; their files are deleted after the cleanup grace",
			"sets", strings.Join(goneNames, ", "), "grace", r.cfg.CleanupGrace)
	}
	if n, err = r.db.RestoreSets(ctx, back); err != nil {
		return err
	}
	if n > 0 {
		r.log.Info("restored retired sets selected again", "sets", n)
	}
	return nil
}

// picked reports whether any selection of any source picks set s, by the
// rule imports select products with (simplestreams.Selection).
func picked(srcs []db.Source, s db.SourcedSet) bool {
	p := simplestreams.Product{Label: s.Label, BootloaderType: s.BootloaderType}
	p.OS, p.Release, _ = strings.Cut(s.Name, "/")
	p.Arch, p.Subarch, _ = strings.Cut(s.Architecture, "/")
	for _, src := range srcs {
		for _, sel := range src.Selections {
			if (simplestreams.Selection{OS: sel.OS, Release: sel.Release, Arches: sel.Arches,
				Subarches: sel.Subarches, Labels: sel.Labels}).Matches(p) {
				return true
			}
		}
	}
	return false
}
