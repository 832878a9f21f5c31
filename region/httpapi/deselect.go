package httpapi

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/simplestreams"
)

// setProduct is the product a set was recorded from, as far as selections
// look at it.
func setProduct(s db.ImageSet) simplestreams.Product {
	p := simplestreams.Product{Label: s.Label, BootloaderType: s.BootloaderType}
	p.OS, p.Release, _ = strings.Cut(s.Name, "/")
	p.Arch, p.Subarch, _ = strings.Cut(s.Architecture, "/")
	return p
}

func picksAny(sel db.Selection, sets []db.ImageSet) bool {
	return slices.ContainsFunc(sets, func(s db.ImageSet) bool { return setPicked(sel, s) })
}

func picksAll(sel db.Selection, sets []db.ImageSet) bool {
	return !slices.ContainsFunc(sets, func(s db.ImageSet) bool { return !setPicked(sel, s) })
}

func concrete(v string) bool { return v != "" && v != "*" }

// narrow returns src's selections changed so that they pick none of the
// targets (upstream sets being deleted) and still pick every other set
// they picked, as far as the sets recorded from src tell (a "*" is
// replaced by what was imported through it). Without byArch the targets'
// releases go as a whole; with it, only their architectures (arches or
// subarches are narrowed, whichever expresses it). It fails when no
// selection can say it (e.g. one subarch of one arch out of a cross
// product), or for bootloaders, which every selection takes.
func narrow(src db.Source, all, targets []db.ImageSet, byArch bool) ([]db.Selection, error) {
	var known []db.ImageSet
	for _, s := range all {
		if s.Source == src.URL && s.BootloaderType == "" && (s.Retired == nil || slices.ContainsFunc(targets,
			func(t db.ImageSet) bool { return t.ID == s.ID })) {
			known = append(known, s)
		}
	}
	for _, t := range targets {
		if t.BootloaderType != "" && pickersOf(src, []db.ImageSet{t}) != nil {
			return nil, errors.New("bootloaders come with every selection (matched by label only): " +
				"they cannot be deselected on their own; remove the source, or narrow its labels")
		}
	}
	explicit := map[[2]string]bool{}
	for _, sel := range src.Selections {
		if concrete(sel.OS) && concrete(sel.Release) {
			explicit[[2]string{sel.OS, sel.Release}] = true
		}
	}
	var out []db.Selection
	taken := map[[2]string]bool{}
	add := func(sel db.Selection) {
		k := [2]string{sel.OS, sel.Release}
		if !taken[k] {
			taken[k] = true
			out = append(out, sel)
		}
	}
	for _, sel := range src.Selections {
		if !picksAny(sel, targets) {
			add(sel)
			continue
		}
		var pairs [][2]string
		if concrete(sel.OS) && concrete(sel.Release) {
			pairs = [][2]string{{sel.OS, sel.Release}}
		} else {
			for _, k := range known {
				os, rel, _ := strings.Cut(k.Name, "/")
				pr := [2]string{os, rel}
				if setPicked(sel, k) && !explicit[pr] && !slices.Contains(pairs, pr) {
					pairs = append(pairs, pr)
				}
			}
		}
		for _, pr := range pairs {
			row := sel
			row.OS, row.Release = pr[0], pr[1]
			if !picksAny(row, targets) {
				add(row)
				continue
			}
			if !byArch {
				continue // the whole release goes
			}
			var keep []db.ImageSet
			for _, k := range known {
				if k.Name == pr[0]+"/"+pr[1] && setPicked(row, k) &&
					!slices.ContainsFunc(targets, func(t db.ImageSet) bool { return t.ID == k.ID }) {
					keep = append(keep, k)
				}
			}
			if len(keep) == 0 {
				continue
			}
			found := false
			for _, c := range candidates(row, keep) {
				if !picksAny(c, targets) && picksAll(c, keep) {
					add(c)
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("no selection of %s/%s picks the other architectures (%s) without it",
					pr[0], pr[1], architectures(keep))
			}
		}
	}
	return out, nil
}

// candidates are row narrowed to the arches, the subarches, or both, of
// the sets to keep.
func candidates(row db.Selection, keep []db.ImageSet) []db.Selection {
	var arches, subs []string
	for _, k := range keep {
		a, s, _ := strings.Cut(k.Architecture, "/")
		if !slices.Contains(arches, a) {
			arches = append(arches, a)
		}
		if !slices.Contains(subs, s) {
			subs = append(subs, s)
		}
	}
	slices.Sort(arches)
	slices.Sort(subs)
	a, s, both := row, row, row
	a.Arches = arches
	s.Subarches = subs
	both.Arches, both.Subarches = arches, subs
	return []db.Selection{a, s, both}
}

func architectures(sets []db.ImageSet) string {
	var out []string
	for _, s := range sets {
		if !slices.Contains(out, s.Architecture) {
			out = append(out, s.Architecture)
		}
	}
	return strings.Join(out, ", ")
}
