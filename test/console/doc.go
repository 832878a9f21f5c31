// Package console tests the region's operator console (region/httpapi's
// page at /) in a real browser: Debian's headless Chromium driven with
// chromedp, against real regions on a real PostgreSQL. The tests check what
// a person sees: banners in human units, held-back sets, progress bars that
// move without a reload, login, CSRF refusals, the page without JavaScript
// and at phone width.
//
// With BOOTFS_SCREENSHOTS=DIR the tests write the screenshots docs/console.md
// shows into DIR (console-*.png).
package console
