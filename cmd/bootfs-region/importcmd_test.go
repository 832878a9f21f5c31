package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/cliargs"
	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region"
)

// runCLI runs the app as main does and returns what it printed and its error.
func runCLI(args ...string) (string, error) {
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run(cliargs.Interspersed(app.Commands, append([]string{"bootfs-region"}, args...)))
	return out.String(), err
}

func clientArgs(r *regiontest.Region) []string {
	return []string{"--region", r.URL(), "--secret-file", r.SecretFile}
}

// TestImportNoSources: `import --wait` with no source says so and fails;
// `import` says so too.
func TestImportNoSources(t *testing.T) {
	r := regiontest.StartRegion(t, regiontest.Options{})
	const msg = "no sources: add one with bootfs-region sources add URL"
	out, err := runCLI(append([]string{"import", "--wait", "--timeout", "30s"}, clientArgs(r)...)...)
	if err == nil || !strings.Contains(err.Error(), msg) {
		t.Errorf("import --wait with no sources: err %v, want %q\n%s", err, msg, out)
	}
	out, err = runCLI(append([]string{"import"}, clientArgs(r)...)...)
	if !strings.Contains(out, msg) && (err == nil || !strings.Contains(err.Error(), msg)) {
		t.Errorf("import with no sources does not say so: err %v\n%s", err, out)
	}
}

// TestImportWaitNamesDownRegion: with a registered region down, `import
// --wait` imports on the live one, reports each region, names the down one
// and points at `regions remove`, and exits non-zero instead of hanging.
func TestImportWaitNamesDownRegion(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	dbURL := pgtest.NewDatabase(t)
	r1 := regiontest.StartRegion(t, regiontest.Options{Name: "r1", DatabaseURL: dbURL})
	r2 := regiontest.StartRegion(t, regiontest.Options{Name: "r2", DatabaseURL: dbURL, SecretFile: r1.SecretFile})
	r1.AddSource(t, m)
	r2.Stop() // still registered, down
	regiontest.Eventually(t, 30*time.Second, "r1 to list r2 as down", func() bool {
		resp := r1.Get(t, wire.PathRegions, nil)
		defer resp.Body.Close()
		var regs []wire.RegionStatus
		if err := json.NewDecoder(resp.Body).Decode(&regs); err != nil {
			t.Fatal(err)
		}
		for _, r := range regs {
			if r.Name == "r2" && !r.Alive {
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan struct{})
	var out string
	var err error
	go func() {
		defer close(done)
		out, err = runCLI(append([]string{"import", "--wait"}, clientArgs(r1)...)...)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("import --wait hangs with a region down")
	}
	t.Logf("import --wait:\n%s\nerr: %v", out, err)
	if err == nil {
		t.Fatal("import --wait with a registered region down exits 0")
	}
	for _, want := range []string{"region r2 is down", "bootfs-region regions remove r2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// The live region's row: its outcome, files and bytes.
	var r1Line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "r1 ") {
			r1Line = l
		}
	}
	if !strings.Contains(r1Line, "done") || !strings.Contains(r1Line, " of ") {
		t.Errorf("no per-region line saying r1 is done with files and bytes:\n%s", out)
	}
}

// TestImportStopCLI: `import --stop` stops a running import and reports
// each region stopped; `status` prints the history with the stop.
func TestImportStopCLI(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.01})
	m.BytesPerSec.Store(128 << 10)
	r := regiontest.StartRegion(t, regiontest.Options{Config: func(c *region.Config) { c.SyncInterval = time.Second }})
	r.AddSource(t, m)
	if _, err := runCLI(append([]string{"import"}, clientArgs(r)...)...); err != nil {
		t.Fatal(err)
	}
	regiontest.Eventually(t, 60*time.Second, "bytes on the way", func() bool {
		return m.Served("")-m.Served("/streams/") > 256<<10
	})
	out, err := runCLI(append([]string{"import", "--stop"}, clientArgs(r)...)...)
	if err != nil {
		t.Fatalf("import --stop: %v\n%s", err, out)
	}
	if !strings.Contains(out, "region region1: stopped") {
		t.Errorf("import --stop does not report region1 stopped:\n%s", out)
	}
	out, err = runCLI(append([]string{"status"}, clientArgs(r)...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "IMPORTS STOPPED") || !strings.Contains(out, "OUTCOME") || !strings.Contains(out, "stopped") {
		t.Errorf("status does not show the stop and the history:\n%s", out)
	}
}
