package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/importer"
)

// Status assembles what /api/v1/status, the page and the CLI show.
func (s *Server) Status(ctx context.Context) (wire.Status, error) {
	res, _ := s.d.Tree.Current()
	st := wire.Status{Region: s.d.Region, Sets: res.Sets}
	regs, err := s.d.DB.Regions(ctx)
	if err != nil {
		return st, err
	}
	byName := make(map[string]db.Region, len(regs))
	for _, r := range regs {
		byName[r.Name] = r
	}
	for _, r := range res.Tree.Regions {
		rs := wire.RegionStatus{Region: r, Version: byName[r.Name].Version}
		if stopped := byName[r.Name].Stopped; !stopped.IsZero() {
			rs.Stopped = &stopped
			rs.LastHeartbeat = stopped
			rs.Alive = false
		}
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
	if b, ok := versionMix(st.Regions, s.d.Region); ok {
		st.Banners = append(st.Banners, b)
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
	if st.Imports, err = s.importHistory(ctx); err != nil {
		return st, err
	}
	liveHistory(st.Imports, s.d.Region, st.Import)
	if st.ImportsStopped, err = s.importStopped(ctx); err != nil {
		return st, err
	}
	files, bytes, q := s.d.Store.Usage()
	free, _ := s.d.Store.Free()
	st.Store = wire.StoreStatus{Dir: s.d.Store.Dir(), Files: files, Bytes: bytes, FreeBytes: free, Quarantine: q}
	return st, nil
}

// BannerVersionMix is the Kind of the banner shown while live regions run
// different versions.
const BannerVersionMix = "version-mix"

// versionMix returns a warning banner when the live regions report
// different versions (an upgrade half done).
func versionMix(regions []wire.RegionStatus, self string) (wire.Banner, bool) {
	byVersion := map[string][]string{}
	var versions []string
	var since time.Time
	for _, r := range regions {
		if !r.Alive {
			continue
		}
		v := r.Version
		if v == "" {
			v = "unknown (older than this check)"
		}
		if _, ok := byVersion[v]; !ok {
			versions = append(versions, v)
		}
		byVersion[v] = append(byVersion[v], r.Name)
		if r.LastHeartbeat.After(since) {
			since = r.LastHeartbeat
		}
	}
	if len(versions) < 2 {
		return wire.Banner{}, false
	}
	sort.Strings(versions)
	parts := make([]string, 0, len(versions))
	for _, v := range versions {
		parts = append(parts, v+" on "+strings.Join(byVersion[v], ", "))
	}
	return wire.Banner{
		Region: self, Kind: BannerVersionMix, Since: since,
		Message: "live regions run different versions: " + strings.Join(parts, "; ") + ". Upgrade every region to one version.",
	}, true
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
