package httpapi

import (
	"net/http"
	"time"
)

// Console paths (not part of the API in internal/wire: only the console's
// own pages and forms use them).
const (
	pathLogin   = "/login"
	pathLogout  = "/logout"
	pathEvents  = "/console/events"
	pathAssets  = "/console/assets/"
	pathActions = "/console/" // + "import", "import/stop", "images/delete"
)

type loginView struct {
	Region  string
	Version string
	Error   string
}

// serveLogin shows the login form.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.session(r); ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderLogin(w, http.StatusOK, "")
}

func (s *Server) renderLogin(w http.ResponseWriter, code int, msg string) {
	setPageHeaders(w)
	w.WriteHeader(code)
	if err := templates.ExecuteTemplate(w, "login.html", loginView{Region: s.d.Region, Version: versionString(), Error: msg}); err != nil {
		s.d.Log.Debug("write login page", "err", err)
	}
}

// login checks the secret from the form and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !s.secretMatches(r.PostFormValue("secret")) {
		s.d.Log.Warn("console login refused: wrong secret", "remote", r.RemoteAddr)
		s.renderLogin(w, http.StatusUnauthorized, "That is not the shared secret. It is in the region's --secret-file (default /var/lib/maas/secret).")
		return
	}
	s.setSessionCookie(w, r, s.newSession(time.Now().Add(sessionTTL)), int(sessionTTL/time.Second))
	s.d.Log.Info("console login", "remote", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session in this browser (auth has checked its token).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, pathLogin, http.StatusSeeOther)
}

// setPageHeaders sets what every console HTML page sends: no framing by
// other sites, scripts and styles only from this region, no caching.
func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}
