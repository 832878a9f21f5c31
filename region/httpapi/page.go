package httpapi

import (
	"fmt"
	"html/template"
	"net/http"
)

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"bytes": func(n any) string {
		switch v := n.(type) {
		case int64:
			return HumanBytes(v)
		case uint64:
			return HumanBytes(int64(v))
		}
		return fmt.Sprint(n)
	},
	"pct": func(a, b int64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b))
	},
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>bootfs region {{.Region}}</title>
<meta http-equiv="refresh" content="10">
<style>
body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f0f0f0}
.banner{background:#fdd;border:1px solid #c00;padding:.6em;margin-bottom:1em}
.ok{color:#070}.bad{color:#c00}
</style></head><body>
<h1>bootfs region {{.Region}}</h1>
{{if .Migrating}}<div class="banner">{{.Migrating}}</div>{{end}}
{{range .Banners}}<div class="banner"><b>{{.Region}}</b> ({{.Kind}}, since {{.Since.Format "2006-01-02 15:04:05 MST"}}): {{.Message}}</div>{{end}}
<h2>Regions</h2>
<table><tr><th>name</th><th>url</th><th>version</th><th>alive</th><th>last heartbeat</th><th>held</th></tr>
{{range .Regions}}<tr><td>{{.Name}}</td><td>{{.URL}}</td><td>{{.Version}}</td><td>{{if .Alive}}<span class="ok">yes</span>{{else if .Stopped}}<span class="bad">stopped</span>{{else}}<span class="bad">no</span>{{end}}</td>
<td>{{.LastHeartbeat.Format "2006-01-02 15:04:05 MST"}}</td><td>{{bytes .BytesHeld}} of {{bytes .BytesWanted}} ({{pct .BytesHeld .BytesWanted}})</td></tr>{{end}}
</table>
<h2>Resource sets</h2>
<table><tr><th>resource</th><th>architecture</th><th>version</th><th>label</th><th>size</th><th>available</th><th>held back by</th></tr>
{{range .Sets}}<tr><td>{{.Resource}}</td><td>{{.Architecture}}</td><td>{{.Version}}</td><td>{{.Label}}</td><td>{{bytes .Size}}</td>
<td>{{if .Available}}<span class="ok">yes</span>{{else}}no{{end}}</td><td>{{range .HeldBackBy}}{{.}} {{end}}{{if .HeldBackBy}}(since {{.Created.Format "2006-01-02 15:04"}}){{end}}</td></tr>{{end}}
</table>
{{if .Downloads}}<h2>Upstream downloads in progress</h2>
<table><tr><th>region</th><th>from</th><th>since</th><th>state</th></tr>
{{range .Downloads}}<tr><td>{{.Region}}</td><td>{{.From}}</td><td>{{.Since.Format "15:04:05"}}</td><td>{{if .Expired}}<span class="bad">claim expired; another region takes over</span>{{else}}downloading{{end}}</td></tr>{{end}}</table>{{end}}
<h2>Import</h2>
<p>{{.Import.State}}{{if .Import.Error}}: <span class="bad">{{.Import.Error}}</span>{{end}} &mdash;
{{.Import.FilesDone}} of {{.Import.FilesTotal}} files, {{bytes .Import.BytesDone}} of {{bytes .Import.BytesTotal}}</p>
{{range .Import.Refused}}<p class="bad">refused {{.Product}}: {{.Reason}}</p>{{end}}
{{if .Import.Current}}<table><tr><th>file</th><th>from</th><th>progress</th></tr>
{{range .Import.Current}}<tr><td>{{.Name}}</td><td>{{.From}}</td><td>{{bytes .Done}} of {{bytes .Size}}</td></tr>{{end}}</table>{{end}}
<h2>Store</h2>
<p>{{.Store.Dir}}: {{.Store.Files}} files, {{bytes .Store.Bytes}}; {{bytes .Store.FreeBytes}} free; {{.Store.Quarantine}} quarantined</p>
</body></html>
`))

func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	st, err := s.Status(r.Context())
	if err != nil {
		s.internal(w, "build status", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.Execute(w, st); err != nil {
		s.d.Log.Debug("write status page", "err", err)
	}
}

// HumanBytes formats n with binary units: 1.5 GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	f := float64(n)
	if f < unit {
		return fmt.Sprintf("%d B", n)
	}
	exp := 0
	for f >= unit && exp < 5 {
		f /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTP"[exp-1])
}
