package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// auth requires the shared secret, either as "Authorization: Bearer
// <secret>" (racks, peers, the CLI, Prometheus' credentials_file) or, for
// GET and HEAD only, as the password of HTTP Basic auth (a person's
// browser; the user name is ignored). The comparison takes constant time. It also counts the request
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

// authorized checks the secret. Basic auth (what a browser sends) is only
// accepted for reads: a browser also sends it with cross-site form posts,
// so changes (sources, imports, region removal) need the Bearer header,
// which no other site can make a browser send. The comparison hashes both
// sides first, so it takes the same time whatever the lengths.
func (s *Server) authorized(r *http.Request) bool {
	var got string
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = strings.TrimSpace(tok)
	} else if _, pass, ok := r.BasicAuth(); ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		got = pass
	} else {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256(s.d.Secret)
	return len(s.d.Secret) > 0 && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
