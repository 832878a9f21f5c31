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
	// Obsolete lists sets older than the set shown for their resource, once
	// that set has been published for the grace period: safe to delete
	// (racks and machines mid-boot have moved on).
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
	var res Result
	regionNames := make(map[int64]string, len(s.Regions))
	for _, r := range s.Regions {
		regionNames[r.ID] = r.Name
		res.Tree.Regions = append(res.Tree.Regions, wire.Region{
			Name: r.Name, URL: r.URL, LastHeartbeat: r.LastHeartbeat,
			Alive: s.Now.Sub(r.LastHeartbeat) <= alive,
		})
	}
	holders := func(d digest.Digest, size int64) []string {
		var out []string
		for _, r := range s.Regions {
			if n, ok := s.Held[r.ID][d]; ok && n == size {
				out = append(out, r.Name)
			}
		}
		return out
	}

	// Group sets by resource; snapshot order is name, arch, version.
	groups := map[int64][]*db.Set{}
	var order []int64
	for i := range s.Sets {
		set := &s.Sets[i]
		if _, ok := groups[set.ResourceID]; !ok {
			order = append(order, set.ResourceID)
		}
		groups[set.ResourceID] = append(groups[set.ResourceID], set)
	}
	entries := map[string]wire.Entry{}
	add := func(path string, f db.File) {
		if old, ok := entries[path]; ok {
			if old.SHA256 != f.SHA256 {
				res.Conflicts = append(res.Conflicts, path)
			}
			return
		}
		entries[path] = wire.Entry{Path: path, SHA256: f.SHA256, Size: f.Size, Regions: holders(f.SHA256, f.Size)}
	}
	for _, rid := range order {
		sets := groups[rid]
		slices.SortStableFunc(sets, func(a, b *db.Set) int { return CompareVersions(b.Version, a.Version) })
		shown := -1
		var shownSince time.Time // when the shown set was (or is now) published
		for i, set := range sets {
			if err := checkPaths(set); err != nil {
				res.Refused = append(res.Refused, fmt.Sprintf("%s %s %s: %v", set.Name, set.Architecture, set.Version, err))
				continue
			}
			st := wire.SetStatus{
				Resource: set.Name, Architecture: set.Architecture, Version: set.Version, Label: set.Label,
				Held: map[string]int64{}, Created: set.Created,
			}
			for _, f := range set.Files {
				st.Size += f.Size
			}
			complete := len(s.Regions) > 0 && len(set.Files) > 0
			var lacking []string
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
					res.Publish = append(res.Publish, set.ID)
				}
				for _, f := range set.Files {
					for _, p := range Paths(set, f) {
						add(p, f)
					}
				}
			case shown < 0:
				st.HeldBackBy = lacking
			case s.Now.Sub(shownSince) >= grace:
				res.Obsolete = append(res.Obsolete, set.ID)
			}
			res.Sets = append(res.Sets, st)
		}
	}
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		res.Tree.Files = append(res.Tree.Files, entries[k])
	}
	res.Tree.Generation = generation(res.Tree)
	return res
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
