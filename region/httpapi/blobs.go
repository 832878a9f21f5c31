package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// serveBlob sends a stored file by sha256, with single and multi-part Range
// (http.ServeContent: a malformed or unsatisfiable Range gets 416).
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request) {
	d, err := digest.Parse(r.PathValue("sha"))
	if err != nil {
		http.Error(w, "malformed sha256", http.StatusBadRequest)
		return
	}
	s.sendFile(w, r, d)
}

// serveMAAS serves GET /MAAS/boot-resources/<filename_on_disk>/<ignored>.
func (s *Server) serveMAAS(w http.ResponseWriter, r *http.Request) {
	b, err := s.d.DB.BlobByName(r.Context(), r.PathValue("name"))
	if errors.Is(err, db.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.internal(w, "look up boot resource", err)
		return
	}
	s.sendFile(w, r, b.SHA256)
}

func (s *Server) sendFile(w http.ResponseWriter, r *http.Request, d digest.Digest) {
	if s.d.Unavailable != nil {
		if why := s.d.Unavailable(); why != "" {
			w.Header().Set("Retry-After", "30")
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
	}
	f, err := s.d.Store.Open(d)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "this region does not hold that file", http.StatusNotFound)
		return
	}
	if err != nil {
		s.internal(w, "open stored file", err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+d.String()+`"`)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, f)
}

// serveBlocks sends the block digests of a file.
func (s *Server) serveBlocks(w http.ResponseWriter, r *http.Request) {
	d, err := digest.Parse(r.PathValue("sha"))
	if err != nil {
		http.Error(w, "malformed sha256", http.StatusBadRequest)
		return
	}
	size, bs, blocks, err := s.d.DB.BlockDigests(r.Context(), d)
	if errors.Is(err, db.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.internal(w, "read block digests", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_ = json.NewEncoder(w).Encode(wire.BlockDigests{SHA256: d, Size: size, BlockSize: bs, Blocks: blocks})
}

// internal logs detail and answers a generic 500.
func (s *Server) internal(w http.ResponseWriter, what string, err error) {
	s.d.Log.Error(what, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}
