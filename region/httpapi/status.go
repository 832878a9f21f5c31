package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/importer"
)

// Status assembles what /api/v1/status, the page and the CLI show.
func (s *Server) Status(ctx context.Context) (wire.Status, error) {
	res, _ := s.d.Tree.Current()
	st := wire.Status{Region: s.d.Region, Sets: res.Sets}
	for _, r := range res.Tree.Regions {
		rs := wire.RegionStatus{Region: r}
		for _, set := range res.Sets {
			rs.BytesWanted += set.Size
			rs.BytesHeld += set.Held[r.Name]
			rs.SetsWanted++
			if set.Held[r.Name] >= set.Size {
				rs.SetsHeld++
			}
		}
		st.Regions = append(st.Regions, rs)
	}
	banners, err := s.d.DB.Banners(ctx)
	if err != nil {
		return st, err
	}
	for _, b := range banners {
		st.Banners = append(st.Banners, wire.Banner{Region: b.Region, Kind: b.Kind, Message: b.Message, Since: b.Since})
	}
	claims, err := s.d.DB.Claims(ctx)
	if err != nil {
		return st, err
	}
	for _, c := range claims {
		st.Downloads = append(st.Downloads, wire.Download{SHA256: c.SHA256, Region: c.Region, From: c.Source, Since: c.Claimed, Expired: !c.Live})
	}
	if s.d.ImportStatus != nil {
		st.Import = s.d.ImportStatus()
	}
	if s.d.Migrating != nil {
		st.Migrating = s.d.Migrating()
	}
	files, bytes, q := s.d.Store.Usage()
	free, _ := s.d.Store.Free()
	st.Store = wire.StoreStatus{Dir: s.d.Store.Dir(), Files: files, Bytes: bytes, FreeBytes: free, Quarantine: q}
	return st, nil
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.Status(r.Context())
	if err != nil {
		s.internal(w, "build status", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

func (s *Server) serveImportStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.d.ImportStatus())
}

// startImport asks for an import now and answers 202 with the status as it
// was, so the caller can wait for a later generation.
func (s *Server) startImport(w http.ResponseWriter, r *http.Request) {
	before := s.d.ImportStatus()
	if err := s.d.StartImport(); err != nil && !errors.Is(err, importer.ErrBusy) {
		s.internal(w, "start import", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(before)
}
