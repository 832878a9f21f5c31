// Package tree decides what the boot tree shows, from a database snapshot.
//
// The rule: for each resource (name, architecture), the tree shows the
// newest resource set that every registered region holds completely, or
// once did (it was then published, and stays offered even if a region
// joins or loses a file: racks read from the regions that hold each file).
// A newer set that some region still lacks is not shown; the previous one
// stays (stale but consistent, so racks keep booting machines). A region
// that is down therefore holds new versions back until it catches up or an
// operator removes it (`bootfs-region regions remove NAME`); Build reports
// who holds back what, and since when, so status and banners can say so.
//
// Paths in the tree:
//
//	<os>/<arch>/<subarch>/<release>/<label>/<filename>   image files
//	bootloaders/<type>/<arch>/<file>                     extracted bootloader files
//	<file>                                               the same, at the top level
//	images/<filename_on_disk>                            every file, MAAS 3.5 style
package tree

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pathrule"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
)

// FiletypeBootloader marks a file extracted from a bootloader archive.
const FiletypeBootloader = "bootloader"

// Result is what Build computes.
type Result struct {
	Tree wire.Tree
	Sets []wire.SetStatus
	// Obsolete lists sets older than the set shown for their resource (and
	// recorded before it was published), once that set has been published
	// for the grace period: safe to delete (racks and machines mid-boot
	// have moved on).
	Obsolete []int64
	// Publish lists sets complete on every region for the first time: the
	// caller records them as published (db.PublishSets).
	Publish []int64
	// Conflicts lists paths claimed by two files; the first (sorted) wins.
	Conflicts []string
	// Refused lists sets left out of the tree (and of Sets) because a path
	// they would give breaks the path rule (internal/pathrule), each as
	// "<name> <architecture> <version>: <why>". The importer refuses such
	// names; this catches rows written before it did, so that no rack is
	// ever offered a ".." or otherwise unsafe path.
	Refused []string
}

// Build computes the tree and per-set status. alive is how recent a
// heartbeat must be for a region to count as alive (for display only:
// availability counts every registered region, alive or not). grace is how
// long a replaced set is kept after its replacement was published.
func Build(s *db.Snapshot, alive, grace time.Duration) Result {
	b := builder{s: s, entries: map[string]wire.Entry{}}
	for _, r := range s.Regions {
		b.res.Tree.Regions = append(b.res.Tree.Regions, wire.Region{
			Name: r.Name, URL: r.URL, LastHeartbeat: r.LastHeartbeat,
			Alive: s.Now.Sub(r.LastHeartbeat) <= alive,
		})
	}
	for _, sets := range byResource(s.Sets) {
		b.resource(sets, grace)
	}
	b.res.Tree.Files = sortedEntries(b.entries)
	b.res.Tree.Generation = generation(b.res.Tree)
	return b.res
}

// builder carries Build's state through its steps.
type builder struct {
	s       *db.Snapshot
	res     Result
	entries map[string]wire.Entry // by path
}

// byResource groups sets by resource, in snapshot order (name, arch,
// version).
func byResource(all []db.Set) [][]*db.Set {
	groups := map[int64][]*db.Set{}
	var order []int64
	for i := range all {
		set := &all[i]
		if _, ok := groups[set.ResourceID]; !ok {
			order = append(order, set.ResourceID)
		}
		groups[set.ResourceID] = append(groups[set.ResourceID], set)
	}
	out := make([][]*db.Set, 0, len(order))
	for _, rid := range order {
		out = append(out, groups[rid])
	}
	return out
}

// resource decides, newest first, which set of one resource is shown,
// which are held back and which are obsolete.
func (b *builder) resource(sets []*db.Set, grace time.Duration) {
	s := b.s
	slices.SortStableFunc(sets, func(a, b *db.Set) int { return CompareVersions(b.Version, a.Version) })
	shown := -1
	var shownSince time.Time // when the shown set was (or is now) published
	for i, set := range sets {
		if err := checkPaths(set); err != nil {
			b.res.Refused = append(b.res.Refused, fmt.Sprintf("%s %s %s: %v", set.Name, set.Architecture, set.Version, err))
			continue
		}
		st, complete, lacking := b.status(set)
		switch {
		case shown < 0 && (complete || set.Published != nil):
			// The newest set that is complete everywhere, or was once:
			// a region joining or losing a file never withdraws it.
			shown = i
			st.Available = true
			shownSince = s.Now
			if set.Published != nil {
				shownSince = *set.Published
			} else {
				b.res.Publish = append(b.res.Publish, set.ID)
			}
			for _, f := range set.Files {
				for _, p := range Paths(set, f) {
					b.add(p, f)
				}
			}
		case shown < 0:
			st.HeldBackBy = lacking
		case s.Now.Sub(shownSince) >= grace && set.Created.Before(shownSince):
			// Recorded after the shown set was published, an older set
			// is not replaced by it: a source of higher priority brought
			// it (region/retire.go retires the shown one once it is
			// complete everywhere).
			b.res.Obsolete = append(b.res.Obsolete, set.ID)
		}
		b.res.Sets = append(b.res.Sets, st)
	}
}

// status returns set's status (without Available and HeldBackBy), whether
// every region holds it completely, and the regions that do not.
func (b *builder) status(set *db.Set) (st wire.SetStatus, complete bool, lacking []string) {
	s := b.s
	st = wire.SetStatus{
		Resource: set.Name, Architecture: set.Architecture, Version: set.Version, Label: set.Label,
		Held: map[string]int64{}, Created: set.Created,
	}
	for _, f := range set.Files {
		st.Size += f.Size
	}
	complete = len(s.Regions) > 0 && len(set.Files) > 0
	for _, r := range s.Regions {
		var held int64
		for _, f := range set.Files {
			held += min(s.Held[r.ID][f.SHA256], f.Size)
		}
		st.Held[r.Name] = held
		if held < st.Size {
			complete = false
			lacking = append(lacking, r.Name)
		}
	}
	return st, complete, lacking
}

// add puts f in the tree at path; the first file at a path wins, and a
// different file claiming it is a conflict.
func (b *builder) add(path string, f db.File) {
	if old, ok := b.entries[path]; ok {
		if old.SHA256 != f.SHA256 {
			b.res.Conflicts = append(b.res.Conflicts, path)
		}
		return
	}
	b.entries[path] = wire.Entry{Path: path, SHA256: f.SHA256, Size: f.Size, Regions: b.holders(f.SHA256, f.Size)}
}

// holders names the regions that hold the blob d of size completely.
func (b *builder) holders(d digest.Digest, size int64) []string {
	var out []string
	for _, r := range b.s.Regions {
		if n, ok := b.s.Held[r.ID][d]; ok && n == size {
			out = append(out, r.Name)
		}
	}
	return out
}

// sortedEntries returns the entries sorted by path.
func sortedEntries(entries map[string]wire.Entry) []wire.Entry {
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []wire.Entry
	for _, k := range keys {
		out = append(out, entries[k])
	}
	return out
}

// checkPaths returns an error if any path of any file of set breaks the
// path rule.
func checkPaths(set *db.Set) error {
	for _, f := range set.Files {
		for _, p := range Paths(set, f) {
			if _, err := pathrule.Path(p); err != nil {
				return fmt.Errorf("file %q: %w", f.Filename, err)
			}
		}
	}
	return nil
}

// Paths returns where file f of set appears in the tree.
func Paths(set *db.Set, f db.File) []string {
	out := []string{"images/" + f.FilenameOnDisk}
	osName, release, _ := strings.Cut(set.Name, "/")
	arch, subarch, _ := strings.Cut(set.Architecture, "/")
	switch {
	case set.BootloaderType != "":
		if f.Filetype == FiletypeBootloader {
			out = append(out, "bootloaders/"+set.BootloaderType+"/"+arch+"/"+f.Filename, f.Filename)
		}
	default:
		if osName != "" && release != "" && arch != "" && subarch != "" {
			out = append(out, strings.Join([]string{osName, arch, subarch, release, set.Label, f.Filename}, "/"))
		}
	}
	return out
}

// generation hashes everything a rack sees (paths, contents, holders and
// region addresses, but not heartbeats) into the tree's ETag.
func generation(t wire.Tree) string {
	h := sha256.New()
	for _, r := range t.Regions {
		fmt.Fprintf(h, "region %s %s\n", r.Name, r.URL)
	}
	enc := json.NewEncoder(h)
	for _, e := range t.Files {
		_ = enc.Encode(e) // hashing into memory cannot fail
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// CompareVersions orders simplestreams version names such as "20250718" and
// "20250718.1": numeric runs compare as numbers, the rest as text.
func CompareVersions(a, b string) int {
	for a != "" && b != "" {
		na, ra := splitRun(a)
		nb, rb := splitRun(b)
		if isDigit(na[0]) && isDigit(nb[0]) {
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if c := cmp.Compare(len(ta), len(tb)); c != 0 {
				return c
			}
			if c := strings.Compare(ta, tb); c != 0 {
				return c
			}
		} else if c := strings.Compare(na, nb); c != 0 {
			return c
		}
		a, b = ra, rb
	}
	return cmp.Compare(len(a), len(b))
}

func splitRun(s string) (run, rest string) {
	d := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == d {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
