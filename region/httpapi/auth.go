package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Who may do what. Three credentials are accepted, all derived from the
// shared secret:
//
//   - "Authorization: Bearer <secret>" (racks, peers, the CLI): everything.
//   - HTTP Basic auth with the secret as password (the user name is
//     ignored): GET and HEAD only. A browser replays Basic credentials on
//     any request to the site, cross-site form posts included, so Basic
//     auth can never change anything.
//   - The console's session cookie, set by the login form (POST /login
//     with the secret): reads, and changes when the request also carries
//     the session's CSRF token (form field "csrf" or header X-CSRF-Token).
//
// Why a session plus a token rather than changes over Basic auth: another
// site can make a logged-in browser send a request with its cookies or
// Basic credentials, but it cannot read our pages, so it cannot learn the
// token. The cookie is HttpOnly (scripts cannot read it), SameSite=Strict
// (browsers do not send it with requests started by another site at all,
// a second, independent defence) and Secure when the request came over
// TLS. The token is an HMAC of the session, so it needs no storage and is
// useless with any other session. Sessions are stateless too (an expiry
// and a nonce, signed with a key derived from the secret): every region of
// a deployment accepts them, a restart keeps them, and changing the
// secret ends them all. Logging out removes the cookie from the browser;
// a copy of it stays valid until it expires (sessionTTL).
const (
	sessionCookie = "bootfs_session"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
	sessionTTL    = 12 * time.Hour
)

// access is what a request's credentials allow.
type access int

const (
	accessNone      access = iota // no valid credentials
	accessRead                    // Basic auth, or a session without the CSRF token
	accessFull                    // Bearer, or a session with its CSRF token
	accessForbidden               // a session sent a change without its CSRF token
)

// auth requires the shared secret (see above) and counts the request under
// endpoint in the metrics. Without credentials it answers 401 (the console's
// page and forms send a browser to the login form instead); a session request
// that would change something without its CSRF token gets 403.
func (s *Server) auth(endpoint string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() { s.m.observe(endpoint, cw) }()
		switch s.access(r) {
		case accessRead, accessFull:
			h.ServeHTTP(cw, r)
		case accessForbidden:
			http.Error(cw, "forbidden: a change from the console must carry the page's CSRF token (form field csrf or header X-CSRF-Token); reload the page and try again", http.StatusForbidden)
		default:
			if endpoint == "page" || endpoint == "console" {
				// A person at a browser: the login form, not a Basic
				// auth dialog (which could only read anyway).
				http.Redirect(cw, r, pathLogin, http.StatusSeeOther)
				return
			}
			cw.Header().Set("WWW-Authenticate", `Basic realm="bootfs region"`)
			http.Error(cw, "unauthorized: send the shared secret as a Bearer token", http.StatusUnauthorized)
		}
	})
}

// access checks r's credentials. Basic auth is only accepted for reads
// (see the top of this file). Comparisons take constant time.
func (s *Server) access(r *http.Request) access {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if s.secretMatches(strings.TrimSpace(tok)) {
			return accessFull
		}
		return accessNone
	}
	// A session goes first: a browser that once used Basic auth keeps
	// sending it, and Basic can only ever read.
	if sess, ok := s.session(r); ok {
		if s.csrfMatches(sess, requestCSRF(r)) {
			return accessFull
		}
		if read {
			return accessRead
		}
		return accessForbidden
	}
	if _, pass, ok := r.BasicAuth(); ok && read && s.secretMatches(pass) {
		return accessRead
	}
	return accessNone
}

// secretMatches compares got with the secret, hashing both sides first so
// it takes the same time whatever the lengths.
func (s *Server) secretMatches(got string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256(s.d.Secret)
	return len(s.d.Secret) > 0 && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// requestCSRF returns the CSRF token r carries: the header, or the form
// field of a url-encoded form.
func requestCSRF(r *http.Request) string {
	if t := r.Header.Get(csrfHeader); t != "" {
		return t
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return ""
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
		return r.PostFormValue(csrfField)
	}
	return ""
}

// sessionKey is the HMAC key of sessions and tokens, derived from the
// secret so that neither reveals it.
func (s *Server) sessionKey() []byte {
	k := sha256.Sum256(append([]byte("bootfs console session key\x00"), s.d.Secret...))
	return k[:]
}

func (s *Server) mac(kind, value string) string {
	m := hmac.New(sha256.New, s.sessionKey())
	m.Write([]byte(kind + "\x00" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSession returns a fresh session cookie value valid until exp.
func (s *Server) newSession(exp time.Time) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(exp.Unix()))
	_, _ = rand.Read(b[8:])
	payload := base64.RawURLEncoding.EncodeToString(b[:])
	return payload + "." + s.mac("session", payload)
}

// session returns r's valid, unexpired session cookie value.
func (s *Server) session(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(s.d.Secret) == 0 {
		return "", false
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.mac("session", payload))) {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || len(b) != 24 {
		return "", false
	}
	if time.Now().Unix() >= int64(binary.BigEndian.Uint64(b[:8])) {
		return "", false
	}
	return c.Value, true
}

// csrfToken is the CSRF token of a session.
func (s *Server) csrfToken(session string) string { return s.mac("csrf", session) }

func (s *Server) csrfMatches(session, got string) bool {
	return got != "" && hmac.Equal([]byte(got), []byte(s.csrfToken(session)))
}

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}
