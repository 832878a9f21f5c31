package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
)

func (s *Server) listSources(w http.ResponseWriter, r *http.Request) {
	srcs, err := s.d.DB.Sources(r.Context())
	if err != nil {
		s.internal(w, "list sources", err)
		return
	}
	out := []wire.Source{}
	for _, src := range srcs {
		ws := wire.Source{URL: src.URL, Keyring: src.Keyring, Unsigned: src.Unsigned, Selections: []wire.Selection{}}
		for _, sel := range src.Selections {
			ws.Selections = append(ws.Selections, wire.Selection(sel))
		}
		out = append(out, ws)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) addSource(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		http.Error(w, "bad source: send it as application/json", http.StatusUnsupportedMediaType)
		return
	}
	var src wire.Source
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&src); err != nil {
		http.Error(w, "bad source: "+err.Error(), http.StatusBadRequest)
		return
	}
	u, err := url.Parse(src.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		http.Error(w, "bad source: url must be http:// or https://", http.StatusBadRequest)
		return
	}
	if len(src.Keyring) == 0 && !src.Unsigned {
		http.Error(w, "bad source: give a keyring, or mark the source unsigned explicitly", http.StatusBadRequest)
		return
	}
	rec := db.Source{URL: src.URL, Keyring: src.Keyring, Unsigned: src.Unsigned}
	for _, sel := range src.Selections {
		if sel.OS == "" || sel.Release == "" {
			http.Error(w, "bad source: every selection needs an os and a release (\"*\" for all)", http.StatusBadRequest)
			return
		}
		rec.Selections = append(rec.Selections, db.Selection(sel))
	}
	if len(rec.Selections) == 0 {
		rec.Selections = []db.Selection{{OS: "*", Release: "*"}}
	}
	if _, err := s.d.DB.AddSource(r.Context(), rec); err != nil {
		s.internal(w, "add source", err)
		return
	}
	s.d.Log.Info("source added", "url", src.URL, "unsigned", src.Unsigned, "selections", len(rec.Selections))
	w.WriteHeader(http.StatusNoContent)
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
	s.d.Log.Info("source removed", "url", u)
	w.WriteHeader(http.StatusNoContent)
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
