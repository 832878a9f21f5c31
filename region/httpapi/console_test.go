package httpapi

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
)

// TestAccess is the credential matrix of auth.go: Bearer does anything,
// Basic only reads, a session reads and changes only with its own token.
func TestAccess(t *testing.T) {
	s := &Server{d: Deps{Secret: []byte(testSecret)}}
	sess := s.newSession(time.Now().Add(time.Hour))
	other := s.newSession(time.Now().Add(time.Hour))
	expired := s.newSession(time.Now().Add(-time.Second))
	otherKey := (&Server{d: Deps{Secret: []byte("another secret")}}).newSession(time.Now().Add(time.Hour))
	tok := s.csrfToken(sess)
	type req struct {
		name, method, auth, cookie, header, form string
		want                                     access
	}
	for _, c := range []req{
		{"bearer get", "GET", "Bearer " + testSecret, "", "", "", accessFull},
		{"bearer post", "POST", "Bearer " + testSecret, "", "", "", accessFull},
		{"wrong bearer", "POST", "Bearer nope", sess, tok, "", accessNone},
		{"basic get", "GET", "basic", "", "", "", accessRead},
		{"basic post", "POST", "basic", "", "", "", accessNone},
		{"basic post with a token", "POST", "basic", "", tok, "", accessNone},
		{"session get", "GET", "", sess, "", "", accessRead},
		{"session post without token", "POST", "", sess, "", "", accessForbidden},
		{"session delete without token", "DELETE", "", sess, "", "", accessForbidden},
		{"session post, header token", "POST", "", sess, tok, "", accessFull},
		{"session post, form token", "POST", "", sess, "", tok, accessFull},
		{"session post, another session's token", "POST", "", sess, s.csrfToken(other), "", accessForbidden},
		{"session and basic post without token", "POST", "basic", sess, "", "", accessForbidden},
		{"expired session", "GET", "", expired, "", "", accessNone},
		{"session of another secret", "GET", "", otherKey, "", "", accessNone},
		{"tampered session", "GET", "", tamper(sess), "", "", accessNone},
		{"nothing", "GET", "", "", "", "", accessNone},
	} {
		var body *strings.Reader
		if c.form != "" {
			body = strings.NewReader(url.Values{csrfField: {c.form}}.Encode())
		} else {
			body = strings.NewReader("")
		}
		r := httptest.NewRequest(c.method, "/console/import", body)
		if c.form != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		switch c.auth {
		case "":
		case "basic":
			r.SetBasicAuth("x", testSecret)
		default:
			r.Header.Set("Authorization", c.auth)
		}
		if c.cookie != "" {
			r.AddCookie(&http.Cookie{Name: sessionCookie, Value: c.cookie})
		}
		if c.header != "" {
			r.Header.Set(csrfHeader, c.header)
		}
		if got := s.access(r); got != c.want {
			t.Errorf("%s: access %d, want %d", c.name, got, c.want)
		}
	}
}

func TestHumanizeBytes(t *testing.T) {
	in := "region1 needs 103809024 more bytes to store all resources (directory /tmp/x123456/store: 111034368 bytes needed including a 104857600 byte reserve, 8388608 available)"
	want := "region1 needs 99.0 MiB more to store all resources (directory /tmp/x123456/store: 105.9 MiB needed including a 100.0 MiB reserve, 8.0 MiB available)"
	if got := humanizeBytes(in); got != want {
		t.Errorf("humanizeBytes:\n got %s\nwant %s", got, want)
	}
	if got := humanizeBytes("3 of 10 files"); got != "3 of 10 files" {
		t.Errorf("a count that is not bytes changed: %s", got)
	}
}

func TestSSEEventFraming(t *testing.T) {
	got := string(sseEvent("live", []byte("<p>a</p>\r\n<p>b</p>")))
	if want := "event: live\ndata: <p>a</p>\ndata: <p>b</p>\n\n"; got != want {
		t.Errorf("sseEvent = %q, want %q", got, want)
	}
}

func TestSelectionText(t *testing.T) {
	for sel, want := range map[*wire.Selection]string{
		{OS: "*", Release: "*", Arches: []string{"*"}}:                       "everything",
		{OS: "ubuntu", Release: "noble", Arches: []string{"amd64", "arm64"}}: "ubuntu/noble · arch amd64, arm64",
		{OS: "*", Release: "*", Labels: []string{"candidate"}}:               "label candidate",
	} {
		if got := selectionText(*sel); got != want {
			t.Errorf("selectionText(%+v) = %q, want %q", *sel, got, want)
		}
	}
}

// TestConsoleOverHTTP: the page sends a browser without credentials to the
// login form, logs in, renders with forms, and streams live updates.
func TestConsoleOverHTTP(t *testing.T) {
	a := startAPI(t, nil)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(a.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != pathLogin {
		t.Fatalf("GET / without credentials: %s to %q, want 303 to %s", resp.Status, resp.Header.Get("Location"), pathLogin)
	}
	// The API still answers 401 with a Basic challenge.
	resp, err = http.Get(a.url + wire.PathStatus)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("GET status without credentials: %s", resp.Status)
	}
	resp, err = noFollow.PostForm(a.url+pathLogin, url.Values{"secret": {testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: %s, cookie %+v", resp.Status, cookie)
	}
	req, _ := http.NewRequest(http.MethodGet, a.url+pathEvents, nil)
	req.AddCookie(cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var sawEvent, sawForm bool
	for sc.Scan() && !(sawEvent && sawForm) {
		line := sc.Text()
		sawEvent = sawEvent || line == "event: live"
		sawForm = sawForm || strings.Contains(line, `action="/console/import"`) && strings.Contains(line, csrfOf(cookie))
	}
	if !sawEvent || !sawForm {
		t.Fatalf("event stream: event %v, import form with the session's token %v", sawEvent, sawForm)
	}
}

// csrfOf returns the CSRF token of the session in c, as the page renders it.
func csrfOf(c *http.Cookie) string {
	return (&Server{d: Deps{Secret: []byte(testSecret)}}).csrfToken(c.Value)
}

// tamper changes one character of the signed part of a session.
func tamper(sess string) string {
	c := byte('A')
	if sess[2] == 'A' {
		c = 'B'
	}
	return sess[:2] + string(c) + sess[3:]
}
