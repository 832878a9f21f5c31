package reader

import (
	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// Holders maps every file of the tree to the URLs of the regions holding it
// (Entry.Regions names looked up in Tree.Regions; unknown names are
// dropped), ready for Reader.SetHolders.
func Holders(t *wire.Tree) map[digest.Digest][]string {
	urls := make(map[string]string, len(t.Regions))
	for _, r := range t.Regions {
		urls[r.Name] = r.URL
	}
	out := make(map[digest.Digest][]string, len(t.Files))
	for _, e := range t.Files {
		for _, name := range e.Regions {
			if u, ok := urls[name]; ok && !contains(out[e.SHA256], u) {
				out[e.SHA256] = append(out[e.SHA256], u)
			}
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
