package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/simplestreams"
	regionsync "github.com/bootfs/bootfs/region/sync"
)

func (s *Server) listSources(w http.ResponseWriter, r *http.Request) {
	srcs, err := s.d.DB.Sources(r.Context())
	if err != nil {
		s.internal(w, "list sources", err)
		return
	}
	out := []wire.Source{}
	for _, src := range srcs {
		ws := wire.Source{URL: src.URL, Keyring: src.Keyring, Unsigned: src.Unsigned, Priority: src.Priority,
			Selections: []wire.Selection{}}
		for _, sel := range src.Selections {
			ws.Selections = append(ws.Selections, wire.Selection(sel))
		}
		out = append(out, ws)
	}
	writeJSON(w, http.StatusOK, out)
}

// addSource records a new source (POST): 409 if its URL is configured.
func (s *Server) addSource(w http.ResponseWriter, r *http.Request) {
	s.putSource(w, r, false)
}

// updateSource replaces an existing source's settings (PUT): 404 if none.
func (s *Server) updateSource(w http.ResponseWriter, r *http.Request) {
	s.putSource(w, r, true)
}

func (s *Server) putSource(w http.ResponseWriter, r *http.Request, update bool) {
	rec, ok := s.decodeSource(w, r)
	if !ok {
		return
	}
	if !update {
		// Answer "exists" before fetching anything.
		srcs, err := s.d.DB.Sources(r.Context())
		if err != nil {
			s.internal(w, "list sources", err)
			return
		}
		for _, o := range srcs {
			if o.URL == rec.URL {
				http.Error(w, existsMessage(rec.URL), http.StatusConflict)
				return
			}
		}
	}
	res, msg := s.checkSource(r.Context(), rec)
	if msg != "" {
		http.Error(w, msg, http.StatusUnprocessableEntity)
		return
	}
	var err error
	if update {
		_, err = s.d.DB.UpdateSource(r.Context(), rec)
	} else {
		_, err = s.d.DB.CreateSource(r.Context(), rec)
	}
	switch {
	case errors.Is(err, db.ErrExists):
		http.Error(w, existsMessage(rec.URL), http.StatusConflict)
		return
	case errors.Is(err, db.ErrNotFound):
		http.Error(w, "no source with url "+rec.URL+": add it with `bootfs-region sources add URL`", http.StatusNotFound)
		return
	case err != nil && strings.Contains(err.Error(), "two selections of"):
		http.Error(w, "bad source: "+err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		s.internal(w, "save source", err)
		return
	}
	res.Retired = s.retireNow(r)
	verb := "source added"
	if update {
		verb = "source updated"
	}
	s.d.Log.Info(verb, "url", rec.URL, "unsigned", rec.Unsigned, "priority", rec.Priority,
		"selections", len(rec.Selections), "products", res.Products, "warnings", len(res.Warnings), "retired_sets", res.Retired)
	writeJSON(w, http.StatusOK, res)
}

func existsMessage(u string) string {
	return "source " + u + " exists already: change its selections, keyring or priority with " +
		"`bootfs-region sources update URL`, or remove it first with `bootfs-region sources remove URL`"
}

// retireNow applies a change of sources at once (the regions' cleanup
// loops would soon after) and returns how many sets it retired.
func (s *Server) retireNow(r *http.Request) int64 {
	if s.d.Retire == nil {
		return 0
	}
	n, err := s.d.Retire(r.Context())
	if err != nil {
		s.d.Log.Warn("retire sets after a source change (the cleanup loop retries)", "err", err)
	}
	s.refreshTree(r)
	return n
}

// refreshTree recomputes this region's tree now, so that what left it is
// gone from the answer to the next request (other regions follow on the
// change notification).
func (s *Server) refreshTree(r *http.Request) {
	if s.d.Tree == nil {
		return
	}
	if err := s.d.Tree.Refresh(r.Context()); err != nil {
		s.d.Log.Warn("recompute the boot tree after a change (it is retried on the next change)", "err", err)
	}
}

// decodeSource reads and checks a wire.Source body.
func (s *Server) decodeSource(w http.ResponseWriter, r *http.Request) (db.Source, bool) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		http.Error(w, "bad source: send it as application/json", http.StatusUnsupportedMediaType)
		return db.Source{}, false
	}
	var src wire.Source
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&src); err != nil {
		http.Error(w, "bad source: "+err.Error(), http.StatusBadRequest)
		return db.Source{}, false
	}
	u, err := url.Parse(src.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		http.Error(w, "bad source: url must be http:// or https://", http.StatusBadRequest)
		return db.Source{}, false
	}
	if len(src.Keyring) == 0 && !src.Unsigned {
		http.Error(w, "bad source: give a keyring, or mark the source unsigned explicitly", http.StatusBadRequest)
		return db.Source{}, false
	}
	rec := db.Source{URL: src.URL, Keyring: src.Keyring, Unsigned: src.Unsigned, Priority: src.Priority}
	seen := map[[2]string]bool{}
	for _, sel := range src.Selections {
		if sel.OS == "" || sel.Release == "" {
			http.Error(w, "bad source: every selection needs an os and a release (\"*\" for all)", http.StatusBadRequest)
			return db.Source{}, false
		}
		k := [2]string{sel.OS, sel.Release}
		if seen[k] {
			http.Error(w, fmt.Sprintf("bad source: two selections of %s/%s: give one selection per os and release "+
				"(list several arches, subarches or labels in it)", sel.OS, sel.Release), http.StatusBadRequest)
			return db.Source{}, false
		}
		seen[k] = true
		rec.Selections = append(rec.Selections, db.Selection(sel))
	}
	if len(rec.Selections) == 0 {
		rec.Selections = []db.Selection{{OS: "*", Release: "*"}}
	}
	return rec, true
}

// checkTimeout bounds fetching a mirror's metadata for a check.
const checkTimeout = 45 * time.Second

// defaultUpstream is the client fetching mirror metadata when Deps has none.
var defaultUpstream = sync.OnceValue(func() *http.Client { return regionsync.NewClient(http.ProxyFromEnvironment) })

// upstream returns the client fetching mirror metadata.
func (s *Server) upstream() *http.Client {
	if s.d.Upstream != nil {
		return s.d.Upstream
	}
	return defaultUpstream()
}

// loadMirror fetches and verifies a mirror's metadata. On failure it
// returns a message for the operator naming what to fix.
func (s *Server) loadMirror(ctx context.Context, src db.Source) ([]simplestreams.Latest, string) {
	if !src.Unsigned {
		if _, err := simplestreams.ReadKeyring(src.Keyring); err != nil {
			return nil, fmt.Sprintf("bad keyring: %v: pass the OpenPGP public keyring that signs the mirror "+
				"(binary .gpg or ASCII-armored) with --keyring FILE", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	latest, _, err := simplestreams.LoadAll(ctx, s.upstream(), simplestreams.Source{
		URL: src.URL, Keyring: src.Keyring, Unsigned: src.Unsigned})
	if err == nil {
		return latest, ""
	}
	var he *simplestreams.HTTPError
	switch {
	case errors.Is(err, simplestreams.ErrBadSignature):
		return nil, fmt.Sprintf("signature check failed: %v: the keyring does not verify this mirror; pass the "+
			"keyring its publisher signs with (--keyring FILE; for images.maas.io "+
			"/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg)", err)
	case errors.As(err, &he):
		return nil, fmt.Sprintf("mirror answered %s for %s: check that the URL is the mirror root "+
			"(the directory holding streams/v1/)", he.Status, he.URL)
	case errors.Is(err, simplestreams.ErrFormat) || errors.Is(err, simplestreams.ErrUnsafePath):
		return nil, fmt.Sprintf("not a usable simplestreams mirror: %v: check the URL", err)
	default:
		return nil, fmt.Sprintf("cannot reach the mirror: %v: check the URL, and that this region can reach it "+
			"(DNS, firewall, proxy settings)", err)
	}
}

// checkSource fetches and verifies the source's index and products with
// its keyring, and counts the products its selections pick, warning about
// each selection matching nothing.
func (s *Server) checkSource(ctx context.Context, src db.Source) (wire.SourceResult, string) {
	latest, msg := s.loadMirror(ctx, src)
	if msg != "" {
		return wire.SourceResult{}, msg
	}
	var res wire.SourceResult
	for _, l := range latest {
		for _, sel := range src.Selections {
			if toSelection(sel).Matches(l.Product) {
				res.Products++
				break
			}
		}
	}
	for _, sel := range src.Selections {
		matched := false
		for _, l := range latest {
			// Bootloaders match every selection (by label): look at images.
			if !l.Product.IsBootloader() && toSelection(sel).Matches(l.Product) {
				matched = true
				break
			}
		}
		if !matched {
			res.Warnings = append(res.Warnings, fmt.Sprintf("selection %s matches nothing the mirror offers "+
				"(see `bootfs-region sources available %s`)", describeSelection(sel), src.URL))
		}
	}
	return res, ""
}

func toSelection(s db.Selection) simplestreams.Selection {
	return simplestreams.Selection{OS: s.OS, Release: s.Release, Arches: s.Arches, Subarches: s.Subarches, Labels: s.Labels}
}

// describeSelection writes a selection the way --select takes it:
// OS/RELEASE/ARCHES/SUBARCHES/LABELS, trailing "*" parts left out.
func describeSelection(s db.Selection) string {
	parts := []string{s.OS, s.Release, list(s.Arches), list(s.Subarches), list(s.Labels)}
	for len(parts) > 2 && parts[len(parts)-1] == "*" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, "/")
}

func list(l []string) string {
	if len(l) == 0 {
		return "*"
	}
	return strings.Join(l, ",")
}

// available lists what a mirror offers: GET ?url=URL for a configured
// source (its keyring is used), POST with a Source body for another.
func (s *Server) available(w http.ResponseWriter, r *http.Request) {
	var src db.Source
	if r.Method == http.MethodPost {
		var ok bool
		if src, ok = s.decodeSource(w, r); !ok {
			return
		}
	} else {
		u := r.URL.Query().Get("url")
		srcs, err := s.d.DB.Sources(r.Context())
		if err != nil {
			s.internal(w, "list sources", err)
			return
		}
		found := false
		for _, o := range srcs {
			if o.URL == u {
				src, found = o, true
			}
		}
		if !found {
			http.Error(w, "no source with url "+u+": give its keyring (`bootfs-region sources available URL --keyring FILE`) "+
				"or add it first", http.StatusNotFound)
			return
		}
	}
	latest, msg := s.loadMirror(r.Context(), src)
	if msg != "" {
		http.Error(w, msg, http.StatusUnprocessableEntity)
		return
	}
	writeJSON(w, http.StatusOK, availableProducts(latest))
}

// availableProducts groups a mirror's products by os, release and arch
// (bootloaders by os and bootloader type as release), with the subarches
// and labels offered, the newest version and its size.
func availableProducts(latest []simplestreams.Latest) []wire.AvailableProduct {
	byKey := map[[3]string]*wire.AvailableProduct{}
	var keys [][3]string
	for _, l := range latest {
		p := l.Product
		rel := p.Release
		if p.IsBootloader() {
			rel = p.BootloaderType
		}
		k := [3]string{p.OS, rel, p.Arch}
		a := byKey[k]
		if a == nil {
			a = &wire.AvailableProduct{OS: p.OS, Release: rel, Arch: p.Arch, Subarches: []string{}, Labels: []string{}}
			byKey[k] = a
			keys = append(keys, k)
		}
		if p.Subarch != "" && !slices.Contains(a.Subarches, p.Subarch) {
			a.Subarches = append(a.Subarches, p.Subarch)
		}
		label := p.Label
		if label == "" {
			label = "stable"
		}
		if !slices.Contains(a.Labels, label) {
			a.Labels = append(a.Labels, label)
		}
		var size int64
		for _, it := range l.Items {
			size += it.Size
		}
		switch c := simplestreams.CompareVersions(l.Version, a.NewestVersion); {
		case c > 0:
			a.NewestVersion, a.Size = l.Version, size
		case c == 0:
			a.Size += size
		}
	}
	slices.SortFunc(keys, func(a, b [3]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]), strings.Compare(a[2], b[2]))
	})
	out := make([]wire.AvailableProduct, 0, len(keys))
	for _, k := range keys {
		a := byKey[k]
		slices.Sort(a.Subarches)
		slices.Sort(a.Labels)
		out = append(out, *a)
	}
	return out
}

func (s *Server) removeSource(w http.ResponseWriter, r *http.Request) {
	u := r.URL.Query().Get("url")
	err := s.d.DB.RemoveSource(r.Context(), u)
	if errors.Is(err, db.ErrNotFound) {
		http.Error(w, "no source with url "+u, http.StatusNotFound)
		return
	}
	if err != nil {
		s.internal(w, "remove source", err)
		return
	}
	n := s.retireNow(r)
	s.d.Log.Info("source removed", "url", u, "retired_sets", n)
	writeJSON(w, http.StatusOK, wire.SourceResult{Retired: n})
}

func (s *Server) listRegions(w http.ResponseWriter, r *http.Request) {
	st, err := s.Status(r.Context())
	if err != nil {
		s.internal(w, "build status", err)
		return
	}
	writeJSON(w, http.StatusOK, st.Regions)
}

// removeRegion decommissions a region: its sync state goes, so it no
// longer holds back new sets. See tree's package doc.
func (s *Server) removeRegion(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	err := s.d.DB.RemoveRegion(r.Context(), name)
	if errors.Is(err, db.ErrNotFound) {
		http.Error(w, "no region named "+name, http.StatusNotFound)
		return
	}
	if err != nil {
		s.internal(w, "remove region", err)
		return
	}
	s.d.Log.Warn("region removed by an operator", "region", name)
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
