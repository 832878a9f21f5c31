package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/upload"
)

// Uploads receives custom image uploads (region/upload.Manager); see
// wire.PathUploads for the protocol.
type Uploads interface {
	Start(ctx context.Context, in wire.UploadStart) (wire.Upload, error)
	Write(ctx context.Context, id string, off int64, body io.Reader) (wire.Upload, error)
	Get(ctx context.Context, id string) (wire.Upload, error)
	Abandon(ctx context.Context, id string) error
}

var _ Uploads = (*upload.Manager)(nil)

// startUpload: POST PathUploads with a wire.UploadStart.
func (s *Server) startUpload(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		http.Error(w, "bad upload: send the declaration as application/json", http.StatusUnsupportedMediaType)
		return
	}
	var in wire.UploadStart
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		http.Error(w, "bad upload: "+err.Error(), http.StatusBadRequest)
		return
	}
	// Resuming re-hashes the bytes the region has, and a complete upload
	// is committed and recorded here: both may take a while.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(uploadFinishTime))
	u, err := s.d.Uploads.Start(r.Context(), in)
	if err != nil {
		s.uploadError(w, "start upload", u, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// putUpload: PUT PathUploads/<id>?offset=N with raw bytes (at most
// upload.MaxChunk per request).
func (s *Server) putUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	off, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	if err != nil || off < 0 {
		http.Error(w, "bad upload chunk: give ?offset=N, the byte count the region has received", http.StatusBadRequest)
		return
	}
	if r.ContentLength > upload.MaxChunk {
		http.Error(w, "upload chunk too large: send at most "+strconv.Itoa(upload.MaxChunk)+" bytes per PUT", http.StatusRequestEntityTooLarge)
		return
	}
	// A chunk may take longer than the write timeout to arrive: each read
	// that brings bytes moves the deadline on, so only a stalled client is cut.
	body := &stallReader{r: r.Body, rc: http.NewResponseController(w), stall: s.d.WriteTimeout}
	u, err := s.d.Uploads.Write(r.Context(), id, off, body)
	if err != nil {
		s.uploadError(w, "upload chunk", u, err)
		return
	}
	if n, _ := r.Body.Read(make([]byte, 1)); n > 0 {
		http.Error(w, "upload chunk too large: the first "+strconv.Itoa(upload.MaxChunk)+" bytes were kept; send the rest from offset "+
			strconv.FormatInt(u.Received, 10), http.StatusRequestEntityTooLarge)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) getUpload(w http.ResponseWriter, r *http.Request) {
	u, err := s.d.Uploads.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.uploadError(w, "upload state", u, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) deleteUpload(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Uploads.Abandon(r.Context(), r.PathValue("id")); err != nil {
		s.uploadError(w, "abandon upload", wire.Upload{}, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// uploadError answers err with its status: the message for what the
// client can fix, the Upload for an offset conflict, a generic text for
// internal failures (logged).
func (s *Server) uploadError(w http.ResponseWriter, what string, u wire.Upload, err error) {
	switch {
	case errors.Is(err, upload.ErrOffset):
		writeJSON(w, http.StatusConflict, u)
	case errors.Is(err, upload.ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, upload.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, upload.ErrConflict):
		http.Error(w, err.Error(), http.StatusConflict)
	case errors.Is(err, upload.ErrCorrupt):
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
	case errors.Is(err, upload.ErrNoSpace):
		http.Error(w, err.Error(), http.StatusInsufficientStorage)
	case u.ID != "":
		// The client went away mid-chunk (or the region is stopping):
		// what arrived is kept; nobody may be listening.
		s.d.Log.Info("upload chunk interrupted", "upload", u.ID, "received", u.Received, "err", err)
		http.Error(w, "upload interrupted: "+err.Error(), http.StatusServiceUnavailable)
	default:
		s.internal(w, what, err)
	}
}

// uploadFinishTime bounds the answer to a request that completes an upload
// (commit, which waits for a running import or sync to release the store
// lock, and recording) or resumes one (re-hashing what arrived before).
const uploadFinishTime = 15 * time.Minute

// stallReader moves the request's read and the response's write deadline
// on with every read, and the write deadline by uploadFinishTime once the
// body has ended.
type stallReader struct {
	r     io.Reader
	rc    *http.ResponseController
	stall time.Duration
}

func (s *stallReader) Read(b []byte) (int, error) {
	// A client that stops sending (a dead peer, a cut cable) is cut after
	// stall too, so the upload is free for the next attempt.
	_ = s.rc.SetReadDeadline(time.Now().Add(s.stall))
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.stall))
	n, err := s.r.Read(b)
	if err == io.EOF {
		_ = s.rc.SetWriteDeadline(time.Now().Add(uploadFinishTime))
	}
	return n, err
}
