package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
)

// Origins of an image (wire.Image.Origin).
const (
	OriginUpstream = "upstream"
	OriginUploaded = "uploaded"
	OriginMigrated = "migrated"
)

// listImages serves GET PathImages: every resource with its versions.
func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	sets, err := s.d.DB.ImageSets(r.Context())
	if err != nil {
		s.internal(w, "list images", err)
		return
	}
	writeJSON(w, http.StatusOK, s.images(sets))
}

// images groups sets into wire.Images, with what the current tree offers
// and holds back.
func (s *Server) images(sets []db.ImageSet) []wire.Image {
	status := map[string]wire.SetStatus{}
	if s.d.Tree != nil {
		res, _ := s.d.Tree.Current()
		for _, st := range res.Sets {
			status[st.Resource+" "+st.Architecture+" "+st.Version] = st
		}
	}
	out := []wire.Image{}
	for i, set := range sets {
		if i == 0 || set.ResourceID != sets[i-1].ResourceID {
			out = append(out, wire.Image{Name: set.Name, Architecture: set.Architecture, Origin: origin(set),
				Title: set.Title, Versions: []wire.ImageVersion{}})
		}
		img := &out[len(out)-1]
		st := status[set.Name+" "+set.Architecture+" "+set.Version]
		v := wire.ImageVersion{Version: set.Version, Label: set.Label, Size: set.Size, Files: set.Files,
			HeldBy: set.HeldBy, Created: set.Created, Retired: set.Retired}
		if v.HeldBy == nil {
			v.HeldBy = []string{}
		}
		if set.Retired == nil {
			v.Offered = st.Available
			v.HeldBackBy = st.HeldBackBy
		}
		if set.Source != "" && (img.Source == "" || set.Retired == nil) {
			img.Source = set.Source
		}
		img.Versions = append(img.Versions, v)
	}
	return out
}

func origin(s db.ImageSet) string {
	switch {
	case s.RType == db.RTypeUploaded:
		return OriginUploaded
	case s.Source != "":
		return OriginUpstream
	default:
		return OriginMigrated
	}
}

// ResourceName maps the NAME operators give (MAAS's forms) to a resource
// name: "ubuntu/noble" and "custom/foo" stay, a bare "foo" is "custom/foo".
func ResourceName(name string) string {
	if name != "" && !strings.Contains(name, "/") {
		return "custom/" + name
	}
	return name
}

// archMatches reports whether a resource architecture (ARCH/SUBARCH) is
// the one asked for: "" matches all, "amd64" every subarch of amd64.
func archMatches(want, arch string) bool {
	if want == "" || want == arch {
		return true
	}
	return !strings.Contains(want, "/") && strings.HasPrefix(arch, want+"/")
}

// deleteImage serves DELETE PathImages?name=NAME[&architecture=A][&deselect=1].
func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, arch := ResourceName(q.Get("name")), q.Get("architecture")
	deselect := q.Get("deselect") == "1" || q.Get("deselect") == "true"
	if name == "" {
		http.Error(w, "bad request: give the image name (name=NAME)", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	sets, err := s.d.DB.ImageSets(ctx)
	if err != nil {
		s.internal(w, "list images", err)
		return
	}
	var targets []db.ImageSet
	var resources []int64
	for _, set := range sets {
		if set.Name == name && archMatches(arch, set.Architecture) {
			targets = append(targets, set)
			if !slices.Contains(resources, set.ResourceID) {
				resources = append(resources, set.ResourceID)
			}
		}
	}
	what := name
	if arch != "" {
		what += " " + arch
	}
	if len(targets) == 0 {
		http.Error(w, "no image "+what+": see `bootfs-region images list`", http.StatusNotFound)
		return
	}
	srcs, err := s.d.DB.Sources(ctx)
	if err != nil {
		s.internal(w, "list sources", err)
		return
	}
	newSels := map[int64][]db.Selection{}
	var changes []string
	for _, src := range srcs {
		pickers := pickersOf(src, targets)
		if len(pickers) == 0 {
			continue
		}
		if !deselect {
			http.Error(w, fmt.Sprintf("%s is still selected by source %s (selection %s): the next import would bring it back. "+
				"Change the selection with `bootfs-region sources update %s --select ...`, or delete with --deselect "+
				"to take it out of the selection", what, src.URL, describeSelection(pickers[0]), src.URL), http.StatusConflict)
			return
		}
		sels, err := narrow(src, sets, targets, arch != "")
		if err != nil {
			http.Error(w, fmt.Sprintf("cannot deselect %s from source %s: %v; change its selections with "+
				"`bootfs-region sources update %s --select ...`", what, src.URL, err, src.URL), http.StatusConflict)
			return
		}
		newSels[src.ID] = sels
		changes = append(changes, fmt.Sprintf("source %s: selections %s became %s", src.URL,
			describeSelections(src.Selections), describeSelections(sels)))
	}
	n, err := s.d.DB.Withdraw(ctx, resources, newSels)
	if err != nil {
		s.internal(w, "withdraw image", err)
		return
	}
	if len(newSels) > 0 {
		s.retireNow(r)
	} else {
		s.refreshTree(r)
	}
	s.d.Log.Info("image deleted: withdrawn from the tree; its files are deleted after the cleanup grace",
		"image", what, "sets", n, "deselected", strings.Join(changes, "; "))
	after, err := s.d.DB.ImageSets(ctx)
	if err != nil {
		s.internal(w, "list images", err)
		return
	}
	res := wire.ImageDeleted{Images: []wire.Image{}, Retired: n, Deselected: changes}
	for _, img := range s.images(after) {
		if img.Name == name && archMatches(arch, img.Architecture) {
			res.Images = append(res.Images, img)
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// pickersOf returns the selections of src that pick one of the sets.
func pickersOf(src db.Source, sets []db.ImageSet) []db.Selection {
	var out []db.Selection
	for _, sel := range src.Selections {
		for _, set := range sets {
			if set.Source != "" && setPicked(sel, set) {
				out = append(out, sel)
				break
			}
		}
	}
	return out
}

func setPicked(sel db.Selection, set db.ImageSet) bool {
	return toSelection(sel).Matches(setProduct(set))
}

func describeSelections(sels []db.Selection) string {
	if len(sels) == 0 {
		return "(none)"
	}
	var parts []string
	for _, s := range sels {
		parts = append(parts, describeSelection(s))
	}
	return strings.Join(parts, " ")
}
