package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
)

// The console is the region's page at /: server-rendered HTML that works
// without JavaScript (tables, forms that POST), kept live by a small script
// listening to Server-Sent Events (pathEvents) that carry the re-rendered
// live part of the page. Actions are forms posting to pathActions; each
// handler calls the region's own API handler in-process with the caller's
// credentials, so the console and the API share validation and auth.

// consoleRefresh is how often the event stream looks for changes.
const consoleRefresh = time.Second

// servePage renders the whole console.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	v, err := s.buildView(r.Context(), r)
	if err != nil {
		s.internal(w, "build console", err)
		return
	}
	if c, err := r.Cookie(flashCookie); err == nil {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil {
			v.Flash = string(b)
		}
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
	setPageHeaders(w)
	if err := templates.ExecuteTemplate(w, "console.html", v); err != nil {
		s.d.Log.Debug("write console page", "err", err)
	}
}

// serveEvents streams the live part of the console as Server-Sent Events:
// an event "live" whose data is the HTML of <main id="live">, sent at once
// and then whenever it changes. The stream ends after maxWait (EventSource
// reconnects by itself) or when the client goes.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	ctx := r.Context()
	end := time.NewTimer(maxWait)
	defer end.Stop()
	tick := time.NewTicker(consoleRefresh)
	defer tick.Stop()
	var last []byte
	lastSent := time.Now()
	for {
		var buf bytes.Buffer
		v, err := s.buildView(ctx, r)
		if err == nil {
			err = templates.ExecuteTemplate(&buf, "live", v)
		}
		if err != nil {
			if ctx.Err() == nil {
				s.d.Log.Warn("console events", "err", err)
			}
			return
		}
		var ev []byte
		switch {
		case !bytes.Equal(buf.Bytes(), last):
			last = buf.Bytes()
			ev = sseEvent("live", last)
		case time.Since(lastSent) > 15*time.Second:
			ev = []byte(": keep-alive\n\n")
		}
		if ev != nil {
			_ = rc.SetWriteDeadline(time.Now().Add(s.d.WriteTimeout))
			if _, err := w.Write(ev); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			lastSent = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-end.C:
			return
		case <-tick.C:
		}
	}
}

// sseEvent frames data as one Server-Sent Event.
func sseEvent(name string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("event: " + name + "\n")
	for _, line := range bytes.Split(data, []byte("\n")) {
		b.WriteString("data: ")
		b.Write(bytes.TrimRight(line, "\r"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

const flashCookie = "bootfs_flash"

// consoleAction handles the console's forms; auth has checked the session
// and its CSRF token. Each calls the API in-process and goes back to the
// console with what happened.
func (s *Server) consoleAction(w http.ResponseWriter, r *http.Request) {
	var method, target, done string
	switch r.PathValue("action") {
	case "import":
		method, target, done = http.MethodPost, wire.PathImport, "Import started."
	case "import/stop":
		method, target, done = http.MethodPost, wire.PathImportStop, "Import stopping."
	case "images/delete":
		q := url.Values{"name": {r.PostFormValue("name")}}
		if a := r.PostFormValue("architecture"); a != "" {
			q.Set("architecture", a)
		}
		if r.PostFormValue("deselect") != "" {
			q.Set("deselect", "1")
		}
		method, target = http.MethodDelete, wire.PathImages+"?"+q.Encode()
		done = "Deleted " + strings.TrimSpace(r.PostFormValue("name")+" "+r.PostFormValue("architecture")) + "."
	default:
		http.NotFound(w, r)
		return
	}
	rec := s.callAPI(r.Context(), r, method, target, nil, "")
	msg := done
	if rec.code >= 300 {
		msg = fmt.Sprintf("Refused (%d %s): %s", rec.code, http.StatusText(rec.code), strings.TrimSpace(rec.body.String()))
		if rec.code == http.StatusNotFound && !strings.HasPrefix(target, wire.PathImages) {
			msg = fmt.Sprintf("Refused (404): this region does not offer %s %s yet (an older version?)", method, target)
		}
	}
	s.d.Log.Info("console action", "action", r.PathValue("action"), "status", rec.code, "remote", r.RemoteAddr)
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(truncate(msg, 1500))),
		Path: "/", MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// recorder collects a response of an in-process API call.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len() < 4<<20 {
		r.body.Write(b)
	}
	return len(b), nil
}

// callAPI runs one API request in-process with the credentials of from
// (its Authorization header, or its session cookie and that session's CSRF
// token), so the API's own auth and validation decide.
func (s *Server) callAPI(ctx context.Context, from *http.Request, method, target string, body []byte, ctype string) *recorder {
	rec := &recorder{header: http.Header{}}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		rec.code = http.StatusInternalServerError
		fmt.Fprint(&rec.body, err)
		return rec
	}
	if a := from.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		req.Header.Set("Authorization", a)
	} else if sess, ok := s.session(from); ok {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sess})
		if s.access(from) == accessFull {
			req.Header.Set(csrfHeader, s.csrfToken(sess))
		}
	} else if a != "" {
		req.Header.Set("Authorization", a)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.RemoteAddr = from.RemoteAddr
	req.Host = from.Host
	s.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	return rec
}

// serveAsset serves the console's embedded CSS and JavaScript.
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := assets.ReadFile("assets/" + name)
	if err != nil || strings.HasSuffix(name, ".html") {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = io.Copy(w, bytes.NewReader(b))
}
