package httpapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
)

// maxWait bounds a long-poll.
const maxWait = 5 * time.Minute

// serveTree answers the boot tree. With If-None-Match equal to the current
// generation it answers 304, after waiting up to ?wait= for a change.
func (s *Server) serveTree(w http.ResponseWriter, r *http.Request) {
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			http.Error(w, "bad wait duration", http.StatusBadRequest)
			return
		}
		wait = min(d, maxWait)
	}
	res, changed := s.d.Tree.Current()
	if etagMatches(r.Header.Get("If-None-Match"), res.Tree.Generation) && wait > 0 {
		// A long-poll: the write deadline starts after the wait.
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + s.d.WriteTimeout)); err != nil {
			s.d.Log.Debug("extend write deadline of a long-poll", "err", err)
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-changed:
			res, _ = s.d.Tree.Current()
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	s.writeTree(w, r, &res.Tree, func(b *treeBody) bool {
		cur, _ := s.d.Tree.Current()
		return b.is(&cur.Tree)
	})
}

// writeTree answers t: 304 if the request's If-None-Match names its
// generation, else its JSON, gzipped if the client accepts gzip. The JSON
// is encoded once per tree (s.trees), however many racks ask for it: a
// change wakes every long-polling rack at once, and a tree of 10,000
// images is some 15 MB of JSON. latest says whether a body is for the
// current tree (only that one is kept); nil: always.
func (s *Server) writeTree(w http.ResponseWriter, r *http.Request, t *wire.Tree, latest func(*treeBody) bool) {
	h := w.Header()
	h.Set("ETag", `"`+t.Generation+`"`)
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	if etagMatches(r.Header.Get("If-None-Match"), t.Generation) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := s.trees.body(t, latest)
	data, err := body.plain()
	if err == nil && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		if data, err = body.gzipped(); err == nil {
			h.Set("Content-Encoding", "gzip")
		}
	}
	if err != nil {
		s.d.Log.Error("encode tree", "generation", t.Generation, "err", err)
		http.Error(w, "encoding the boot tree failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	if _, err := w.Write(data); err != nil {
		s.d.Log.Debug("write tree", "err", err)
	}
}

// treeCache holds the encoded body of the latest tree served.
type treeCache struct {
	mu  sync.Mutex
	cur *treeBody
	// encodes counts JSON encodings (tests check there is one per tree).
	encodes atomic.Int64
	// lastSize is the length of the last JSON encoded.
	lastSize atomic.Int64
}

// body returns the body of t: the cached one if it is for t, else a new
// one, kept (replacing the old) if latest accepts it. A request that
// read the tree just before it changed gets a body of its own, so that it
// does not evict the current tree's.
func (c *treeCache) body(t *wire.Tree, latest func(*treeBody) bool) *treeBody {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && c.cur.is(t) {
		return c.cur
	}
	b := &treeBody{
		gen: t.Generation, regions: slices.Clone(t.Regions), nilRegions: t.Regions == nil,
		files: len(t.Files), nilFiles: t.Files == nil,
		tree: t, cache: c,
	}
	if n := c.lastSize.Load(); n > 0 {
		// Trees change little from one generation to the next: most
		// often one allocation for the new JSON.
		b.sizeHint = int(n + n/16)
	}
	if latest == nil || latest(b) {
		c.cur = b
	}
	return b
}

// treeBody is the JSON of one tree, encoded on first use, and its gzip
// form, compressed on first use; concurrent callers wait for the one
// encoding.
type treeBody struct {
	// What identifies the tree. The generation is a hash of the files and
	// of the regions' names and URLs, not of their heartbeats and
	// liveness, which change while the generation stays: they are
	// compared too, so a body is always exactly what encoding the tree
	// now would give.
	gen                  string
	regions              []wire.Region
	nilRegions, nilFiles bool
	files                int

	tree     *wire.Tree // until encoded
	sizeHint int        // expected length of the JSON
	cache    *treeCache

	plainOnce sync.Once
	json      []byte
	err       error

	gzOnce sync.Once
	gz     []byte
	gzErr  error
}

// is says whether b is the body of t.
func (b *treeBody) is(t *wire.Tree) bool {
	return b.gen == t.Generation && b.files == len(t.Files) && b.nilFiles == (t.Files == nil) &&
		b.nilRegions == (t.Regions == nil) && slices.Equal(b.regions, t.Regions)
}

// plain returns the JSON, exactly as json.NewEncoder(w).Encode(tree)
// writes it (a newline at the end included).
func (b *treeBody) plain() ([]byte, error) {
	b.plainOnce.Do(func() {
		var buf bytes.Buffer
		buf.Grow(b.sizeHint)
		if err := json.NewEncoder(&buf).Encode(b.tree); err != nil {
			b.err = fmt.Errorf("encoding tree %s: %w", b.gen, err)
		}
		b.json, b.tree = buf.Bytes(), nil
		b.cache.encodes.Add(1)
		b.cache.lastSize.Store(int64(len(b.json)))
	})
	return b.json, b.err
}

// gzipped returns the JSON gzipped.
func (b *treeBody) gzipped() ([]byte, error) {
	plain, err := b.plain()
	if err != nil {
		return nil, err
	}
	b.gzOnce.Do(func() {
		var buf bytes.Buffer
		buf.Grow(len(plain) / 8)
		zw, _ := gzip.NewWriterLevel(&buf, treeGzipLevel) // a valid level: no error
		_, err := zw.Write(plain)
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			b.gzErr = fmt.Errorf("compressing tree %s: %w", b.gen, err)
		}
		b.gz = buf.Bytes()
	})
	return b.gz, b.gzErr
}

// treeGzipLevel: the tree is compressed once per generation, so the
// default level's better ratio is worth its time.
const treeGzipLevel = gzip.DefaultCompression

// acceptsGzip says whether Accept-Encoding header values allow gzip: a
// "gzip" (or "x-gzip") coding with a q-value above 0, or failing one, a
// "*" with a q-value above 0.
func acceptsGzip(values []string) bool {
	star := false
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			ok := qAbove0(params)
			switch coding {
			case "gzip", "x-gzip":
				return ok
			case "*":
				star = ok
			}
		}
	}
	return star
}

// qAbove0 says whether the parameters of an Accept-Encoding item (after
// its ";") leave its q-value above 0; without a q it is 1.
func qAbove0(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.ToLower(strings.TrimSpace(k)) != "q" {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil && q > 0
	}
	return true
}

// etagMatches implements If-None-Match's weak comparison: a list of
// entity tags, each possibly W/-prefixed, or "*".
func etagMatches(header, gen string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || strings.Trim(tag, `"`) == gen && gen != "" {
			return true
		}
	}
	return false
}
