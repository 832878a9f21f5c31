package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/tmpfs"
	"github.com/bootfs/bootfs/internal/wire"
)

// TestBannerInHumanUnits: a store too small for the import raises the
// disk-space banner; the console shows it first, in MiB rather than raw
// byte counts, with what to do.
func TestBannerInHumanUnits(t *testing.T) {
	store := filepath.Join(tmpfs.Mount(t, "8m"), "store")
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	r := regiontest.StartRegion(t, regiontest.Options{Storage: store})
	r.AddSource(t, m)
	_ = r.ImportNow(context.Background()) // fails for want of space: the point
	until(t, 30*time.Second, "the disk-space banner", func() bool {
		for _, b := range status(t, r).Banners {
			if b.Kind == "disk-space" {
				return true
			}
		}
		return false
	})
	ctx := newBrowser(t, 1100, 560)
	do(t, ctx, basicAuth(r.Secret), chromedp.Navigate(r.URL()+"/"))
	waitFor(t, ctx, ".banner-disk-space")
	got := text(t, ctx, ".banner-disk-space")
	t.Logf("banner: %s", got)
	if !strings.Contains(got, "MiB") {
		t.Errorf("banner %q does not say MiB", got)
	}
	if raw := regexp.MustCompile(`\b\d{4,} (bytes?|more|available|free)\b`).FindString(got); raw != "" {
		t.Errorf("banner %q shows a raw byte count %s", got, raw)
	}
	if !strings.Contains(got, "What to do: Free space") {
		t.Errorf("banner %q does not say what to do", got)
	}
	first := eval[string](t, ctx, `document.querySelector("#live").firstElementChild.className`)
	if !strings.Contains(first, "banner") {
		t.Errorf("the first thing on the page is %q, not the banner", first)
	}
	screenshot(t, ctx, "banner", false)
}

// TestHeldBackSet: two regions on one PostgreSQL; one is down and lacks the
// files, so the new sets are held back by it, and the console says so.
func TestHeldBackSet(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	r1 := regiontest.StartRegion(t, regiontest.Options{Name: "r1", DatabaseURL: dbURL})
	r2 := regiontest.StartRegion(t, regiontest.Options{Name: "r2", DatabaseURL: dbURL, SecretFile: r1.SecretFile})
	r2.Stop()
	r1.AddSource(t, m)
	if err := r1.ImportNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t, 1200, 720)
	do(t, ctx, basicAuth(r1.Secret), chromedp.Navigate(r1.URL()+"/"))
	waitFor(t, ctx, "#images tr.held")
	held := text(t, ctx, "#images tr.held")
	if !strings.Contains(held, "held back by r2") {
		t.Errorf("held-back row says %q, want \"held back by r2\"", held)
	}
	// r1 holds all of it, r2 nothing: the row's bars say so.
	rows := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#images tr.held")).map(tr => Array.from(tr.querySelectorAll("progress")).map(p => p.dataset.region + "=" + (p.max > 0 && p.value >= p.max ? "full" : p.value === 0 ? "empty" : "part")).join(" "))`)
	for _, bars := range rows {
		if bars != "r1=full r2=empty" {
			t.Errorf("held-back row bars %q, want r1 full and r2 empty", bars)
		}
	}
	regions := text(t, ctx, "#regions")
	if !strings.Contains(regions, "stopped") || !strings.Contains(regions, "(this one)") {
		t.Errorf("regions table %q does not show r2 stopped and r1 as this one", regions)
	}
	screenshot(t, ctx, "held-back", false)
}

// TestLoginStartImportProgressMoves: an operator logs in, starts an import
// with the button, and the progress bar moves while the throttled mirror
// serves, without the page reloading.
func TestLoginStartImportProgressMoves(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	m.BytesPerSec.Store(max(mirrorBytes(t, m)/12, 64<<10))
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	ctx := newBrowser(t, 1200, 900)
	login(t, ctx, r)
	if got := text(t, ctx, ".who"); !strings.Contains(got, "Log out") {
		t.Fatalf("after login the header says %q, no Log out", got)
	}
	click(t, ctx, "#start-import")
	waitFor(t, ctx, "#flash")
	if got := text(t, ctx, "#flash"); got != "Import started." {
		t.Fatalf("flash after Start import: %q", got)
	}
	recordProgress(t, ctx, "import-progress")
	shot := false
	until(t, 2*time.Minute, "the import to finish", func() bool {
		st := status(t, r)
		if !shot && st.Import.State == "running" && st.Import.BytesDone > 0 {
			time.Sleep(consoleRefresh + 300*time.Millisecond) // let the page catch up
			screenshot(t, ctx, "import", true)
			shot = true
		}
		return st.Import.State == "done" && st.Import.Imports >= 1
	})
	time.Sleep(2 * consoleRefresh) // the last live update
	seen := seenProgress(t, ctx, "import-progress")
	if seen == nil {
		t.Fatal("the page reloaded (the in-page record is gone); it must update in place")
	}
	partial := map[float64]bool{}
	for _, v := range seen {
		if v[0] > 0 && v[0] < v[1] {
			partial[v[0]] = true
		}
	}
	t.Logf("progress values seen: %v", seen)
	if len(partial) < 2 {
		t.Errorf("the progress bar took %d in-between values (%v), want it to move", len(partial), seen)
	}
	last := seen[len(seen)-1]
	if last[1] == 0 || last[0] != last[1] {
		t.Errorf("the progress bar ended at %v, want full", last)
	}
	if st := text(t, ctx, "#import"); !strings.Contains(st, "done") {
		t.Errorf("import section says %q after the import, want done", st)
	}
}

// consoleRefresh mirrors region/httpapi's event interval.
const consoleRefresh = time.Second

// TestCSRF: a logged-in browser's change without the session's CSRF token
// is refused (403), as is Basic auth for any change (401), a forged token
// and another session's token; with the token it goes through.
func TestCSRF(t *testing.T) {
	r := regiontest.StartRegion(t, regiontest.Options{})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values, h http.Header) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, r.URL()+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/login", url.Values{"secret": {"wrong"}}, nil); code != http.StatusUnauthorized {
		t.Fatalf("login with a wrong secret: %d, want 401", code)
	}
	if code := post("/login", url.Values{"secret": {r.Secret}}, nil); code != http.StatusSeeOther {
		t.Fatalf("login: %d, want 303", code)
	}
	u, _ := url.Parse(r.URL())
	var cookie *http.Cookie
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "bootfs_session" {
			cookie = ck
		}
	}
	if cookie == nil {
		t.Fatal("login set no session cookie")
	}
	// The cookie's attributes, as the server sent them.
	req, _ := http.NewRequest(http.MethodPost, r.URL()+"/login", strings.NewReader("secret="+url.QueryEscape(r.Secret)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
		t.Errorf("session cookie %q lacks HttpOnly or SameSite=Strict", sc)
	}
	// The token, from the page.
	getReq, _ := http.NewRequest(http.MethodGet, r.URL()+"/", nil)
	resp, err = c.Do(getReq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mt := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if mt == nil {
		t.Fatalf("no CSRF token in the logged-in page (%d)", resp.StatusCode)
	}
	token := string(mt[1])

	before := status(t, r).Import.Generation
	basic := http.Header{"Authorization": {"Basic " + basicCreds(r.Secret)}}
	for _, tc := range []struct {
		name string
		path string
		form url.Values
		h    http.Header
		want int
	}{
		{"form without token", "/console/import", url.Values{}, nil, http.StatusForbidden},
		{"form with a forged token", "/console/import", url.Values{"csrf": {"x" + token}}, nil, http.StatusForbidden},
		{"API without token", wire.PathImport, nil, nil, http.StatusForbidden},
		{"logout without token", "/logout", nil, nil, http.StatusForbidden},
	} {
		if code := post(tc.path, tc.form, tc.h); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
	}
	// Basic auth never changes anything, token or not (no cookie here).
	plain := &http.Client{CheckRedirect: c.CheckRedirect}
	req, _ = http.NewRequest(http.MethodPost, r.URL()+"/console/import", strings.NewReader("csrf="+url.QueryEscape(token)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header["Authorization"] = basic["Authorization"]
	if resp, err := plain.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("form POST with Basic auth: %v %v, want 303 to the login form", resp.Status, err)
	}
	req, _ = http.NewRequest(http.MethodPost, r.URL()+wire.PathImport, nil)
	req.Header["Authorization"] = basic["Authorization"]
	if resp, err := plain.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API POST with Basic auth: %v %v, want 401", resp.Status, err)
	}
	// Another session's token is refused too.
	jar2, _ := cookiejar.New(nil)
	c2 := &http.Client{Jar: jar2, CheckRedirect: c.CheckRedirect}
	req, _ = http.NewRequest(http.MethodPost, r.URL()+"/login", strings.NewReader("secret="+url.QueryEscape(r.Secret)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := c2.Do(req); err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodPost, r.URL()+"/console/import", strings.NewReader("csrf="+url.QueryEscape(token)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := c2.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with another session's token: %v %v, want 403", resp.Status, err)
	}
	if g := status(t, r).Import.Generation; g != before {
		t.Fatalf("a refused request started an import (generation %d -> %d)", before, g)
	}
	// With the token: the form and the API header both go through.
	if code := post("/console/import", url.Values{"csrf": {token}}, nil); code != http.StatusSeeOther {
		t.Errorf("form with token: %d, want 303", code)
	}
	if code := post(wire.PathImport, nil, http.Header{"X-Csrf-Token": {token}}); code != http.StatusAccepted {
		t.Errorf("API with X-CSRF-Token: %d, want 202", code)
	}

	// In the browser: after logging in, a script's POST without the token
	// is refused.
	ctx := newBrowser(t, 1000, 700)
	login(t, ctx, r)
	code := eval[int](t, ctx, `fetch("/console/import", {method: "POST", credentials: "same-origin"}).then(r => r.status)`)
	if code != http.StatusForbidden {
		t.Errorf("browser POST without token: %d, want 403", code)
	}
	code = eval[int](t, ctx, `fetch("/api/v1/import", {method: "POST", credentials: "same-origin"}).then(r => r.status)`)
	if code != http.StatusForbidden {
		t.Errorf("browser API POST without token: %d, want 403", code)
	}
	if got := eval[string](t, ctx, `document.cookie`); strings.Contains(got, "bootfs_session") {
		t.Errorf("a script can read the session cookie: %q", got)
	}
}

// TestWithoutJavaScript: the tables are there with scripts off.
func TestWithoutJavaScript(t *testing.T) {
	r, _ := importedRegion(t)
	ctx := newBrowser(t, 1100, 800)
	do(t, ctx, noScript(), basicAuth(r.Secret), chromedp.Navigate(r.URL()+"/"), chromedp.WaitVisible(chromedp.CSS("#images table")))
	for _, want := range []struct{ css, text string }{
		{"#images", "ubuntu/jammy"},
		{"#images", "offered"},
		{"#regions", "region1"},
		{"#regions", "alive"},
		{"#sources", "yes"},
		{"#import", "done"},
	} {
		if got := domText(t, ctx, want.css); !strings.Contains(got, want.text) {
			t.Errorf("%s without JavaScript: %q lacks %q", want.css, got, want.text)
		}
	}
	// Read-only viewers get no action buttons.
	c, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	nodes, err := chromedp.Run(c, chromedp.Nodes(chromedp.CSS("#start-import"), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 0 {
		t.Errorf("a read-only (Basic auth) viewer is offered Start import")
	}
}

// TestPhoneWidth: at 390 px (a phone) nothing makes the page scroll
// sideways, with a held-back set, long URLs and a banner on it.
func TestPhoneWidth(t *testing.T) {
	r, _ := importedRegion(t)
	ctx := newBrowser(t, 390, 844)
	do(t, ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(r.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#secret")),
		chromedp.SendKeys(chromedp.CSS("#secret"), r.Secret),
		chromedp.Click(chromedp.CSS("#login")),
	)
	waitFor(t, ctx, "#images table")
	dims := eval[[]int](t, ctx, `[document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]`)
	if dims[0] > dims[1] {
		t.Errorf("page is %d px wide in a %d px viewport: it scrolls sideways", dims[0], dims[1])
	}
	wide := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).map(e => e.tagName + "." + e.className + "#" + e.id).slice(0, 10)`)
	if len(wide) > 0 {
		t.Errorf("elements past the right edge: %v", wide)
	}
	screenshot(t, ctx, "phone", false)
}

// TestSHA256Fallback: the pure-JavaScript sha256 the upload uses where
// WebCrypto is missing agrees with Go's on the block boundaries and on a
// file-sized input fed in pieces.
func TestSHA256Fallback(t *testing.T) {
	r := regiontest.StartRegion(t, regiontest.Options{})
	ctx := newBrowser(t, 800, 600)
	login(t, ctx, r)
	big := make([]byte, 3<<20+17)
	_, _ = rand.Read(big)
	for _, n := range []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, len(big)} {
		data := big[:n]
		want := sha256.Sum256(data)
		got := eval[string](t, ctx, `(() => {
			const b = Uint8Array.from(atob(`+jsString(b64(data))+`), c => c.charCodeAt(0));
			const h = new BootfsSHA256();
			for (let i = 0; i < b.length; i += 1000003) h.update(b.subarray(i, i + 1000003));
			return h.hex();
		})()`)
		if got != hex.EncodeToString(want[:]) {
			t.Errorf("sha256 of %d bytes: js %s, go %x", n, got, want)
		}
	}
}

// TestCrossSiteFormRefused: a page on another site that a logged-in
// operator opens posts the console's import form to the region; nothing
// starts (the session cookie is SameSite=Strict, and the post has no token).
func TestCrossSiteFormRefused(t *testing.T) {
	r := regiontest.StartRegion(t, regiontest.Options{})
	// 127.0.0.2 is another site than the region's 127.0.0.1 to the browser.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	evil := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/console/import"><input name="csrf" value="guess"></form>
<script>document.getElementById("f").submit()</script>`, r.URL())
	}))
	evil.Listener.Close()
	evil.Listener = ln
	evil.Start()
	t.Cleanup(evil.Close)
	evilURL := evil.URL
	ctx := newBrowser(t, 1000, 700)
	login(t, ctx, r)
	before := status(t, r).Import.Generation
	do(t, ctx, chromedp.Navigate(evilURL), chromedp.Sleep(500*time.Millisecond))
	// Without its cookie the post is a stranger's: sent to the login form.
	until(t, 10*time.Second, "the forged post to land on the login form", func() bool {
		return eval[string](t, ctx, `location.href`) == r.URL()+"/login"
	})
	time.Sleep(time.Second)
	if g := status(t, r).Import.Generation; g != before {
		t.Errorf("a cross-site form started an import (generation %d -> %d)", before, g)
	}
}

// TestLiveUpdateKeepsTickedBoxes: the live part of the page is replaced
// every time it changes (heartbeats, at least); a box the operator ticked
// stays ticked across those swaps.
func TestLiveUpdateKeepsTickedBoxes(t *testing.T) {
	r, _ := importedRegion(t)
	ctx := newBrowser(t, 1200, 800)
	login(t, ctx, r)
	const box = `form[action="/console/images/delete"] input[name=deselect]`
	waitFor(t, ctx, box)
	click(t, ctx, box)
	eval[bool](t, ctx, `(window.__old = document.querySelector("#regions"), true)`)
	until(t, 15*time.Second, "a live update", func() bool {
		return eval[bool](t, ctx, `document.querySelector("#regions") !== window.__old`)
	})
	if !eval[bool](t, ctx, `document.querySelector(`+jsString(box)+`).checked`) {
		t.Fatal("a live update unticked the box the operator ticked")
	}
}
