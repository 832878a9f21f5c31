package httpapi

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// auth requires the shared secret, either as "Authorization: Bearer
// <secret>" (racks, peers, the CLI, Prometheus' credentials_file) or as the
// password of HTTP Basic auth (a person's browser; the user name is
// ignored). The comparison takes constant time. It also counts the request
// under endpoint in the metrics.
func (s *Server) auth(endpoint string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() { s.m.observe(endpoint, cw) }()
		if !s.authorized(r) {
			cw.Header().Set("WWW-Authenticate", `Basic realm="bootfs region"`)
			http.Error(cw, "unauthorized: send the shared secret as a Bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(cw, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	var got string
	if _, pass, ok := r.BasicAuth(); ok {
		got = pass
	} else if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = strings.TrimSpace(tok)
	} else {
		return false
	}
	return len(s.d.Secret) > 0 && subtle.ConstantTimeCompare([]byte(got), s.d.Secret) == 1
}
