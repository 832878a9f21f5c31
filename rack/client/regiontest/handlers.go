package regiontest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

func (r *Region) serveTree(w http.ResponseWriter, req *http.Request) {
	var wait time.Duration
	if s := req.URL.Query().Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			http.Error(w, "bad wait", http.StatusBadRequest)
			return
		}
		wait = d
	}
	inm := req.Header.Get("If-None-Match")
	deadline := time.After(wait)
	for {
		r.mu.Lock()
		t, changed := r.tree, r.changed
		r.mu.Unlock()
		if t == nil {
			http.Error(w, "no tree yet", http.StatusServiceUnavailable)
			return
		}
		etag := strconv.Quote(t.Generation)
		if !noneMatch(inm, t.Generation) {
			w.Header().Set("ETag", etag)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(t)
			return
		}
		if wait <= 0 {
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		r.set(func() { r.treeWaits++ })
		var done bool
		select {
		case <-changed:
		case <-deadline:
			done = true
		case <-req.Context().Done():
			done = true
		case <-r.stop:
			done = true
		}
		r.set(func() { r.treeWaits-- })
		if done {
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
}

func (r *Region) serveBlob(w http.ResponseWriter, req *http.Request, kind string) {
	name := strings.TrimPrefix(req.URL.Path, wire.PathBlobs)
	name = strings.TrimSuffix(name, "/blocks")
	d, err := digest.Parse(name)
	if err != nil {
		http.Error(w, "bad digest", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	status, hang, stall := r.status, r.hang, r.stallBody
	data, ok := r.blobs[d]
	bd := r.digests[d]
	r.mu.Unlock()
	if hang {
		r.wait(req)
		return
	}
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	if !ok {
		http.NotFound(w, req)
		return
	}
	if kind == "blocks" {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(forClient(bd, data, req))
		return
	}
	size := int64(len(data))
	lo, hi, ranged, err := parseRange(req.Header.Get("Range"), size)
	if err != nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		http.Error(w, err.Error(), http.StatusRequestedRangeNotSatisfiable)
		return
	}
	body := r.body(d, data, lo, hi)
	w.Header().Set("Content-Length", strconv.FormatInt(hi-lo, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	if ranged {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", lo, hi-1, size))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	if stall {
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		r.wait(req)
		return
	}
	r.write(w, body)
}

// body returns data[lo:hi] as served: counted, and with corrupted blocks
// altered.
func (r *Region) body(d digest.Digest, data []byte, lo, hi int64) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if hi > lo {
		r.blockReqs[blockKey{d, lo / digest.BlockSize}]++
	}
	body := data[lo:hi]
	copied := false
	for i := lo / digest.BlockSize; i*digest.BlockSize < hi; i++ {
		if !r.corrupt[blockKey{d, i}] {
			continue
		}
		if !copied {
			body = append([]byte(nil), body...)
			copied = true
		}
		at := max(i*digest.BlockSize, lo) - lo
		body[at] ^= 0xff
	}
	return body
}

// write sends body in chunks, dying in the middle if KillAfter says so.
func (r *Region) write(w http.ResponseWriter, body []byte) {
	const chunk = 64 << 10
	for len(body) > 0 {
		n := min(len(body), chunk)
		r.mu.Lock()
		die := r.killAfter > 0 && r.served+int64(n) > r.killAfter
		if die {
			n = int(r.killAfter - r.served)
			r.killed = true
		}
		r.served += int64(n)
		r.mu.Unlock()
		w.Write(body[:n])
		if die {
			w.(http.Flusher).Flush()
			r.Close()
			panic(http.ErrAbortHandler)
		}
		body = body[n:]
	}
}

func (r *Region) wait(req *http.Request) {
	select {
	case <-req.Context().Done():
	case <-r.stop:
	}
}

// parseRange parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range.
// It returns the half-open interval [lo, hi) and whether a range was asked.
func parseRange(h string, size int64) (lo, hi int64, ranged bool, err error) {
	if h == "" {
		return 0, size, false, nil
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, true, fmt.Errorf("unsupported range %q", h)
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, true, fmt.Errorf("bad range %q", h)
	}
	switch {
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, true, fmt.Errorf("bad range %q", h)
		}
		return max(size-n, 0), size, true, nil
	default:
		lo, err = strconv.ParseInt(a, 10, 64)
		if err != nil || lo < 0 || lo >= size {
			return 0, 0, true, fmt.Errorf("bad range %q", h)
		}
		hi = size
		if b != "" {
			last, err := strconv.ParseInt(b, 10, 64)
			if err != nil || last < lo {
				return 0, 0, true, fmt.Errorf("bad range %q", h)
			}
			hi = min(last+1, size)
		}
		return lo, hi, true, nil
	}
}

// forClient is bd as a real region answers req: SHA-256 block digests
// (of data) when the client does not announce BLAKE3.
func forClient(bd *wire.BlockDigests, data []byte, req *http.Request) *wire.BlockDigests {
	if bd == nil || bd.Algorithm != digest.BLAKE3 || strings.Contains(req.URL.Query().Get(wire.BlockAlgorithmsParam), digest.BLAKE3) {
		return bd
	}
	h := digest.NewHasherOf(digest.SHA256, bd.BlockSize)
	h.Write(data)
	_, blocks := h.Sum()
	old := *bd
	old.Algorithm, old.Blocks = digest.SHA256, blocks
	return &old
}
