package console

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/testpoll"
	"github.com/bootfs/bootfs/internal/testskip"
	"github.com/bootfs/bootfs/internal/wire"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// actionTimeout bounds one browser step.
const actionTimeout = 60 * time.Second

// newBrowser starts a headless Chromium with a window of width x height and
// returns the context of its first tab. It ends with the test.
func newBrowser(t *testing.T, width, height int) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		testskip.Skip(t, "no Chromium: install Debian's chromium package (scripts/install-deps.sh)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in CI; the pages are our own
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(width, height),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser; no timeout on this first call
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// do runs browser steps with a timeout.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression in the page (promises awaited).
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text returns the visible text of the first element matching css, read
// in one step in the page (a live update may replace the element between
// two protocol calls), or "" if there is none.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	return eval[string](t, ctx, `(() => { const e = document.querySelector(`+jsString(css)+`); return e ? e.innerText : ""; })()`)
}

// domText returns the visible text of the first element matching css
// through the DOM protocol, which works with scripts off.
func domText(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return s
}

// basicAuth makes the tab send the secret with HTTP Basic auth (read-only).
func basicAuth(secret string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("operator:"+secret))},
		})
		return err
	})
}

// noScript turns JavaScript off in the tab.
func noScript() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})
}

// login logs in through the form, as a person would.
func login(t *testing.T, ctx context.Context, r *regiontest.Region) {
	t.Helper()
	do(t, ctx,
		chromedp.Navigate(r.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#secret")),
		chromedp.SendKeys(chromedp.CSS("#secret"), r.Secret),
		chromedp.Click(chromedp.CSS("#login")),
	)
	waitFor(t, ctx, "#start-import")
}

// waitFor waits until an element matching css is on the page (polled in
// the page: live updates replace elements under the protocol's feet).
func waitFor(t *testing.T, ctx context.Context, css string) {
	t.Helper()
	until(t, actionTimeout, css+" on the page", func() bool {
		return eval[bool](t, ctx, `!!document.querySelector(`+jsString(css)+`)`)
	})
}

// click clicks the element matching css with the mouse, as a person
// would; it tries again if a live update replaced the element mid-click.
func click(t *testing.T, ctx context.Context, css string) {
	t.Helper()
	var err error
	for range 5 {
		c, cancel := context.WithTimeout(ctx, actionTimeout)
		err = chromedp.Do(c, chromedp.Click(chromedp.CSS(css)))
		cancel()
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("click %s: %v", css, err)
}

// screenshot saves the viewport (full page when full) as
// $BOOTFS_SCREENSHOTS/console-NAME.png.
func screenshot(t *testing.T, ctx context.Context, name string, full bool) {
	t.Helper()
	dir := os.Getenv("BOOTFS_SCREENSHOTS")
	if dir == "" {
		return
	}
	c, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	a := chromedp.CaptureScreenshot()
	if full {
		a = chromedp.FullScreenshot(100)
	}
	b, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console-"+name+".png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// importedRegion starts a region on a fresh database with the dev mirror
// as its source, imported once.
func importedRegion(t *testing.T) (*regiontest.Region, *regiontest.Mirror) {
	t.Helper()
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	if err := r.ImportNow(context.Background()); err != nil {
		t.Fatalf("import: %v", err)
	}
	return r, m
}

// mirrorBytes is the size of every file the mirror serves.
func mirrorBytes(t *testing.T, m *regiontest.Mirror) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(m.Root, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// status reads the region's status through the API.
func status(t *testing.T, r *regiontest.Region) wire.Status {
	t.Helper()
	var st wire.Status
	resp := r.Get(t, wire.PathStatus, nil)
	if err := decodeJSON(resp.Body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// until polls cond (testpoll, the one polling helper of the tests).
func until(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testpoll.Until(t, timeout, what, cond)
}

// recordProgress starts recording, in the page, every distinct value of
// the <progress> element with id, every 20 ms, into window.__seen[id]. It
// survives the live updates replacing the element (it looks it up again
// each time) but not a reload, so a reload shows as a lost record.
func recordProgress(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	eval[bool](t, ctx, `(() => {
		window.__seen = window.__seen || {};
		const seen = window.__seen[`+jsString(id)+`] = [];
		setInterval(() => {
			const p = document.getElementById(`+jsString(id)+`);
			if (!p) return;
			const v = [p.value, p.max];
			const last = seen[seen.length - 1];
			if (!last || last[0] !== v[0] || last[1] !== v[1]) seen.push(v);
		}, 20);
		return true;
	})()`)
}

// seenProgress returns what recordProgress recorded, or nil after a reload.
func seenProgress(t *testing.T, ctx context.Context, id string) [][2]float64 {
	t.Helper()
	return eval[[][2]float64](t, ctx, `(window.__seen && window.__seen[`+jsString(id)+`]) || null`)
}

func jsString(s string) string {
	b, _ := jsonMarshal(s)
	return string(b)
}
