package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
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

// sendFile sends stored file d, every byte verified against its block
// digests just before it leaves (see store.Verified). A damaged file is
// quarantined at once, reported through Deps.OnCorrupt (so it is fetched
// again) and the response is cut: the client sees an error, never a
// complete wrong body.
func (s *Server) sendFile(w http.ResponseWriter, r *http.Request, d digest.Digest) {
	if s.d.Unavailable != nil {
		if why := s.d.Unavailable(); why != "" {
			w.Header().Set("Retry-After", "30")
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
	}
	v, err := s.openVerified(r.Context(), d)
	if errors.Is(err, store.ErrCorrupt) {
		s.corrupt(d, err)
		http.Error(w, "this region does not hold that file: its copy was damaged and is being fetched again", http.StatusNotFound)
		return
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, db.ErrNotFound) {
		http.Error(w, "this region does not hold that file", http.StatusNotFound)
		return
	}
	if err != nil {
		s.internal(w, "open stored file", err)
		return
	}
	defer v.Close()
	if !checkRange(w, r, v.Size()) {
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+d.String()+`"`)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(&verifiedWriter{ResponseWriter: w, v: v, rc: http.NewResponseController(w), stall: s.d.WriteTimeout}, r, "", time.Time{}, v)
	if err := v.Err(); err != nil {
		s.corrupt(d, err)
		// Headers (and maybe part of the body) are out: abort the
		// connection so the client cannot take a short or wrong body
		// for a complete one.
		panic(http.ErrAbortHandler)
	}
}

// corrupt reports a blob found damaged while serving.
func (s *Server) corrupt(d digest.Digest, err error) {
	s.d.Log.Error("stored file is damaged: quarantined, response cut, fetching it again", "sha256", d, "err", err)
	s.forgetBlocks(d)
	if s.d.OnCorrupt != nil {
		s.d.OnCorrupt(d)
	}
}

// openVerified opens stored file d with its recorded block digests (BLAKE3
// ones if recorded, else SHA-256 ones). A file whose digests were never
// recorded is hashed whole first (and its digests recorded), so it is
// still served only once verified.
func (s *Server) openVerified(ctx context.Context, d digest.Digest) (*store.Verified, error) {
	bi, err := s.blockInfo(ctx, d)
	if errors.Is(err, db.ErrNotFound) {
		bi, err = s.hashStored(ctx, d, digest.BlockAlgorithm)
	}
	if err != nil {
		return nil, err
	}
	return s.d.Store.OpenVerified(d, bi.size, bi.bs, bi.algo, bi.blocks)
}

// hashStored reads stored file d whole, checks its sha256 (quarantining
// it if wrong: ErrCorrupt) and records and returns its block digests of
// algorithm algo. store.ErrNotFound if this region does not hold it.
func (s *Server) hashStored(ctx context.Context, d digest.Digest, algo string) (blockInfo, error) {
	size, err := s.d.Store.Stat(d)
	if err != nil {
		return blockInfo{}, err
	}
	whole, blocks, err := s.d.Store.HashOf(ctx, d, algo, 0)
	if err != nil {
		return blockInfo{}, err
	}
	if whole != d {
		if qerr := s.d.Store.Quarantine(d, "sha256 of the stored bytes is "+whole.String()); qerr != nil && !errors.Is(qerr, store.ErrNotFound) {
			return blockInfo{}, qerr
		}
		return blockInfo{}, fmt.Errorf("%w: sha256 of the stored bytes of %s is %s", store.ErrCorrupt, d, whole)
	}
	if err := s.d.DB.SetBlockDigestsOf(ctx, d, algo, digest.BlockSize, blocks); err != nil && !errors.Is(err, db.ErrNotFound) {
		return blockInfo{}, err
	}
	return blockInfo{size: size, bs: digest.BlockSize, algo: algo, blocks: blocks, at: time.Now()}, nil
}

// sha256Blocks returns d's SHA-256 block digests, for a client of an
// earlier release. A file ingested by this release has none recorded:
// then this region hashes its copy once (concurrent requests wait for the
// same hash) and records them; store.ErrNotFound if it holds no copy (the
// client asks another region).
func (s *Server) sha256Blocks(ctx context.Context, d digest.Digest) (blockInfo, error) {
	r, err := s.d.DB.BlockDigestsOf(ctx, d, digest.SHA256)
	if err == nil {
		return blockInfo{size: r.Size, bs: r.BlockSize, algo: r.Algorithm, blocks: r.Blocks}, nil
	}
	if !errors.Is(err, db.ErrNotFound) {
		return blockInfo{}, err
	}
	if _, err := s.d.DB.BlockDigestsOf(ctx, d, ""); err != nil {
		return blockInfo{}, err // an unknown blob: db.ErrNotFound
	}
	v, err, _ := s.blocks.sha256.Do(d.String(), func() (any, error) {
		// Detached from one request: the others wait for the same hash.
		return s.hashStored(context.WithoutCancel(ctx), d, digest.SHA256)
	})
	if err != nil {
		return blockInfo{}, err
	}
	return v.(blockInfo), nil
}

// verifiedWriter hands http.ServeContent's copy of a whole file or a single
// range to store.Verified.CopyTo (big writes, blocks hashed ahead in
// parallel) instead of a 32 KiB copy loop. Each write gets stall as its
// deadline: a body of any size goes out while the client keeps reading.
type verifiedWriter struct {
	http.ResponseWriter
	v     *store.Verified
	rc    *http.ResponseController
	stall time.Duration
}

func (w *verifiedWriter) Write(b []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.stall))
	return w.ResponseWriter.Write(b)
}

func (w *verifiedWriter) ReadFrom(src io.Reader) (int64, error) {
	hide := struct{ io.Writer }{w} // Write without ReadFrom
	if lr, ok := src.(*io.LimitedReader); ok && lr.R == io.Reader(w.v) {
		n, err := w.v.CopyTo(hide, lr.N)
		lr.N -= n
		return n, err
	}
	return io.Copy(hide, src)
}

func (w *verifiedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// checkRange answers 416 to the Range headers http.ServeContent would get
// wrong: "bytes=" with no range (it would send the whole file with 200)
// and suffix ranges of zero bytes, "bytes=-0" (a malformed 206). Such
// ranges are dropped from a list that has satisfiable ones. It reports
// whether to go on.
func checkRange(w http.ResponseWriter, r *http.Request, size int64) bool {
	h := r.Header.Get("Range")
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return true
	}
	var keep []string
	for _, ra := range strings.Split(spec, ",") {
		ra = strings.TrimSpace(ra)
		if ra == "" {
			continue
		}
		if start, end, ok := strings.Cut(ra, "-"); ok && strings.TrimSpace(start) == "" {
			if n, err := strconv.ParseInt(strings.TrimSpace(end), 10, 64); err == nil && n == 0 {
				continue // "-0": the last zero bytes, unsatisfiable
			}
		}
		keep = append(keep, ra)
	}
	if len(keep) == 0 {
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		http.Error(w, "invalid range: no satisfiable byte range in "+strconv.Quote(h), http.StatusRequestedRangeNotSatisfiable)
		return false
	}
	r.Header.Set("Range", "bytes="+strings.Join(keep, ","))
	return true
}

// serveBlocks sends the block digests of a file: BLAKE3 ones (or SHA-256
// ones, for a file stored by an earlier release and not yet converted) to
// a client that announces BLAKE3 (wire.BlockAlgorithmsParam), SHA-256 ones
// to any other: a rack or region of an earlier release would check
// BLAKE3 digests as SHA-256 ones and take every block for damaged.
func (s *Server) serveBlocks(w http.ResponseWriter, r *http.Request) {
	d, err := digest.Parse(r.PathValue("sha"))
	if err != nil {
		http.Error(w, "malformed sha256", http.StatusBadRequest)
		return
	}
	var bi blockInfo
	if announcesBLAKE3(r) {
		bi, err = s.blockInfo(r.Context(), d)
	} else {
		bi, err = s.sha256Blocks(r.Context(), d)
	}
	switch {
	case errors.Is(err, db.ErrNotFound), errors.Is(err, store.ErrNotFound):
		http.NotFound(w, r)
		return
	case errors.Is(err, store.ErrCorrupt):
		s.corrupt(d, err)
		http.Error(w, "this region does not hold that file: its copy was damaged and is being fetched again", http.StatusNotFound)
		return
	case err != nil:
		s.internal(w, "read block digests", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_ = json.NewEncoder(w).Encode(wire.BlockDigests{SHA256: d, Size: bi.size, BlockSize: bi.bs, Blocks: bi.blocks, Algorithm: bi.algo})
}

// announcesBLAKE3 reports whether a block digests request lists BLAKE3
// among the algorithms its client checks.
func announcesBLAKE3(r *http.Request) bool {
	for _, v := range r.URL.Query()[wire.BlockAlgorithmsParam] {
		for a := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(a) == digest.BLAKE3 {
				return true
			}
		}
	}
	return false
}

// internal logs detail and answers a generic 500.
func (s *Server) internal(w http.ResponseWriter, what string, err error) {
	s.d.Log.Error(what, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}
