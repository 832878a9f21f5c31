package httpapi

import (
	"embed"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/bootfs/bootfs/internal/units"
	"github.com/bootfs/bootfs/internal/wire"
)

// assets are the console's templates, stylesheet and scripts, built into
// the binary (no CDN, nothing to install).
//
//go:embed assets
var assets embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"bytes": func(n any) string {
		switch v := n.(type) {
		case int64:
			return HumanBytes(v)
		case uint64:
			return HumanBytes(int64(min(v, 1<<62)))
		case int:
			return HumanBytes(int64(v))
		}
		return fmt.Sprint(n)
	},
	"pct":       percent,
	"when":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"ago":       ago,
	"took":      took,
	"join":      strings.Join,
	"orDash":    orDash,
	"timePtr":   func(t *time.Time) time.Time { return *t },
	"selection": selectionText,
}).ParseFS(assets, "assets/*.html"))

// percent is 100*a/b rounded down, 0 when b is 0, at most 100.
func percent(a, b int64) int {
	if b <= 0 || a <= 0 {
		return 0
	}
	return int(min(100, 100*float64(a)/float64(b)))
}

// ago says how long before now t was: "12s ago", "5m ago", "3h ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// took is the duration from a to b (or to now when b is nil), rounded.
func took(now, a time.Time, b *time.Time) string {
	end := now
	if b != nil {
		end = *b
	}
	return end.Sub(a).Round(time.Second).String()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// HumanBytes formats n with binary units (1.5 GiB), as internal/units
// does for every bootfs text.
func HumanBytes(n int64) string { return units.Bytes(n) }

// selectionText describes a source selection: "ubuntu/noble · arch amd64",
// "everything" for all "*".
func selectionText(sel wire.Selection) string {
	all := func(v []string) bool { return len(v) == 0 || len(v) == 1 && v[0] == "*" }
	var parts []string
	if sel.OS != "*" || sel.Release != "*" {
		parts = append(parts, sel.OS+"/"+sel.Release)
	}
	for _, f := range []struct {
		name string
		v    []string
	}{{"arch", sel.Arches}, {"subarch", sel.Subarches}, {"label", sel.Labels}} {
		if !all(f.v) {
			parts = append(parts, f.name+" "+strings.Join(f.v, ", "))
		}
	}
	if len(parts) == 0 {
		return "everything"
	}
	return strings.Join(parts, " · ")
}
