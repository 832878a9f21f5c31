package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
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
	matches := func(gen string) bool { return etagMatches(r.Header.Get("If-None-Match"), gen) }
	if matches(res.Tree.Generation) && wait > 0 {
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
	etag := `"` + res.Tree.Generation + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if matches(res.Tree.Generation) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(res.Tree); err != nil {
		s.d.Log.Debug("write tree", "err", err)
	}
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
