package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/bootfs/bootfs/internal/units"
	"github.com/bootfs/bootfs/internal/wire"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:  "import",
		Usage: "ask the running regions to import from upstream now, or stop a running import",
		Description: "Without --stop, asks every live region to import from the configured sources (and withdraws\n" +
			"an earlier --stop). A registered region that is down is named: new images are offered only once\n" +
			"every registered region holds them, so either start it or remove it (`bootfs-region regions remove NAME`).\n" +
			"--stop stops the running import (and peer syncs) on every region: downloads in flight abort,\n" +
			"partial files stay on disk and the next `bootfs-region import` resumes them. Until then no region\n" +
			"imports or syncs by itself, not even after a restart.",
		Flags: append(clientFlags(),
			&cli.BoolFlag{Name: "wait", Usage: "show progress and return when every live region is done, with each region's outcome " +
				"(non-zero if one failed or was stopped, or a registered region is down)"},
			&cli.DurationFlag{Name: "timeout", Value: 0, Usage: "with --wait or --stop, give up waiting after this long (0: never for --wait, 1m for --stop)"},
			&cli.BoolFlag{Name: "stop", Usage: "stop the running import on every region (partial downloads are kept and resumed by the next import)"},
		),
		Action: runImport,
	}
}

// importTarget is one live region asked to import.
type importTarget struct {
	name   string
	api    *apiClient
	before int64 // its import count when asked; done once an import after it ended
	st     wire.ImportStatus
	done   bool
	lost   string // why the region stopped answering while we waited ("" if it did not)
}

// downRegion is a registered region that cannot import now.
type downRegion struct {
	name string
	why  string
}

func (d downRegion) String() string {
	return fmt.Sprintf("region %s is down (%s): it imports nothing, and new images are offered only once every registered region holds them; "+
		"start it again, or if it is gone for good remove it: bootfs-region regions remove %s", d.name, d.why, d.name)
}

func runImport(c *cli.Context) error {
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	if c.Bool("stop") {
		if c.Bool("wait") {
			return errors.New("--stop and --wait do not go together: --stop already waits until every live region stopped")
		}
		return runImportStop(ctx, c, api)
	}
	if t := c.Duration("timeout"); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	if err := checkSources(ctx, api); err != nil {
		if !c.Bool("wait") && errors.Is(err, errNoSources) {
			// Nothing to import: say so, but asking was not wrong.
			fmt.Fprintf(c.App.ErrWriter, "bootfs-region: %v\n", err)
			return nil
		}
		return err
	}
	targets, down, err := requestImports(ctx, c, api)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "import requested on %d region(s)\n", len(targets))
	for _, d := range down {
		fmt.Fprintln(c.App.ErrWriter, d)
	}
	if !c.Bool("wait") {
		return nil
	}
	if err := waitImports(ctx, c, targets); err != nil {
		return err
	}
	return reportImports(c, targets, down)
}

// checkSources refuses an import when no source is configured: it would
// import nothing.
func checkSources(ctx context.Context, api *apiClient) error {
	var srcs []wire.Source
	if err := api.do(ctx, "GET", wire.PathSources, nil, &srcs); err != nil {
		return err
	}
	if len(srcs) == 0 {
		return errNoSources
	}
	return nil
}

var errNoSources = errors.New("no sources: add one with bootfs-region sources add URL (e.g. bootfs-region sources add " +
	"https://images.maas.io/ephemeral-v3/stable/ --keyring /usr/share/keyrings/ubuntu-cloudimage-keyring.gpg), then import")

// requestImports asks every live region to import now. A region that is
// not alive, or does not answer, is returned in down (it is not an error:
// the others import).
func requestImports(ctx context.Context, c *cli.Context, api *apiClient) ([]*importTarget, []downRegion, error) {
	var regions []wire.RegionStatus
	if err := api.do(ctx, "GET", wire.PathRegions, nil, &regions); err != nil {
		return nil, nil, err
	}
	var targets []*importTarget
	var down []downRegion
	for _, r := range regions {
		if !r.Alive {
			why := "no heartbeat since " + r.LastHeartbeat.Format(time.RFC3339)
			if r.Stopped != nil {
				why = "it stopped at " + r.Stopped.Format(time.RFC3339)
			}
			down = append(down, downRegion{r.Name, why})
			continue
		}
		t := &importTarget{name: r.Name, api: api.at(r.URL)}
		if err := t.api.do(ctx, "POST", wire.PathImport, nil, &t.st); err != nil {
			if ctx.Err() != nil {
				return nil, nil, err
			}
			down = append(down, downRegion{r.Name, "it does not answer at " + r.URL + ": " + err.Error()})
			continue
		}
		t.before = t.st.Imports
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		msgs := make([]string, 0, len(down))
		for _, d := range down {
			msgs = append(msgs, d.String())
		}
		return nil, nil, fmt.Errorf("no live region to import:\n  %s", strings.Join(msgs, "\n  "))
	}
	return targets, down, nil
}

// waitImports shows progress until every target's import ended.
func waitImports(ctx context.Context, c *cli.Context, targets []*importTarget) error {
	tty := false
	if f, ok := c.App.Writer.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	var bar *progressbar.ProgressBar
	lastLog := time.Time{}
	// A GET of the import status is cheap; checking often ends the wait
	// soon after the import (a script timing it sees the import's time).
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var files, filesTotal int
		var bytes, bytesTotal int64
		allDone := true
		for _, t := range targets {
			if !t.done {
				var st wire.ImportStatus
				if err := t.api.do(ctx, "GET", wire.PathImport, nil, &st); err != nil {
					if ctx.Err() != nil {
						return fmt.Errorf("waiting for the import: %w", ctx.Err())
					}
					// It went down while importing: say so at the end
					// instead of failing on the spot.
					t.done, t.lost = true, err.Error()
					continue
				}
				t.st = st
				// A peer sync may have started since: judge by the last import's outcome.
				t.done = st.LastImport != nil && st.LastImport.Number > t.before
			}
			allDone = allDone && t.done
			files += t.st.FilesDone
			filesTotal += t.st.FilesTotal
			bytes += t.st.BytesDone
			bytesTotal += t.st.BytesTotal
		}
		switch {
		case tty:
			if bar == nil || bar.GetMax64() != bytesTotal {
				if bar != nil {
					_ = bar.Finish()
				}
				bar = progressbar.NewOptions64(max(bytesTotal, 1), progressbar.OptionSetWriter(c.App.Writer),
					progressbar.OptionShowBytes(true), progressbar.OptionUseIECUnits(true), progressbar.OptionSetWidth(30),
					progressbar.OptionSetDescription("importing"), progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionShowCount())
			}
			_ = bar.Set64(bytes)
			bar.Describe(fmt.Sprintf("importing %d/%d files", files, filesTotal))
		case time.Since(lastLog) > 5*time.Second || allDone:
			// One line per check, each region's state and progress.
			parts := make([]string, 0, len(targets))
			for _, t := range targets {
				state := t.st.State
				if t.done && t.st.LastImport != nil {
					state = t.st.LastImport.State
				}
				if t.lost != "" {
					state = "not answering"
				}
				parts = append(parts, fmt.Sprintf("%s %s %d/%d files %s/%s", t.name, state, t.st.FilesDone, t.st.FilesTotal,
					units.Bytes(t.st.BytesDone), units.Bytes(t.st.BytesTotal)))
			}
			fmt.Fprintf(c.App.Writer, "import: %s\n", strings.Join(parts, "; "))
			lastLog = time.Now()
		}
		if allDone {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the import: %w", ctx.Err())
		case <-tick.C:
		}
	}
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(c.App.Writer)
	}
	return nil
}

// reportImports prints each region's outcome (state, files, bytes) and
// the products that failed (their failure is not the import's), and fails
// if an import failed or was stopped, or a registered region is down.
func reportImports(c *cli.Context, targets []*importTarget, down []downRegion) error {
	hb := units.Bytes[int64]
	var bad []string
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tOUTCOME\tFILES\tBYTES\tERROR")
	for _, t := range targets {
		if t.lost != "" {
			down = append(down, downRegion{t.name, "it stopped answering during the import: " + t.lost})
			continue
		}
		outcome, errText := "?", ""
		if l := t.st.LastImport; l != nil {
			outcome, errText = l.State, l.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%d of %d\t%s of %s\t%s\n", t.name, outcome, t.st.FilesDone, t.st.FilesTotal,
			hb(t.st.BytesDone), hb(t.st.BytesTotal), errText)
		switch outcome {
		case "failed":
			bad = append(bad, fmt.Sprintf("region %s: import failed: %s", t.name, errText))
		case "stopped":
			bad = append(bad, fmt.Sprintf("region %s: import stopped by an operator (bootfs-region import --stop); `bootfs-region import` resumes it", t.name))
		}
	}
	for _, d := range down {
		fmt.Fprintf(tw, "%s\tdown\t-\t-\t%s\n", d.name, d.why)
		bad = append(bad, d.String())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range targets {
		for _, r := range t.st.Refused { // bad upstream products or archives; the rest was imported
			fmt.Fprintf(c.App.Writer, "region %s refused %s: %s\n", t.name, r.Product, r.Reason)
		}
		if l := t.st.LastImport; l != nil {
			for _, f := range l.FailedProducts {
				fmt.Fprintf(c.App.ErrWriter, "region %s: product %s %s %s failed (%s): %s\n", t.name, f.Resource, f.Architecture, f.Version, f.File, f.Reason)
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("import not complete everywhere:\n  %s", strings.Join(bad, "\n  "))
	}
	fmt.Fprintln(c.App.Writer, "import done")
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runImportStop asks one region to stop imports everywhere (the stop goes
// to every region through the database), then waits until no live region
// runs an import or sync any more and prints each one's state.
func runImportStop(ctx context.Context, c *cli.Context, api *apiClient) error {
	timeout := c.Duration("timeout")
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := api.do(ctx, "POST", wire.PathImportStop, nil, nil); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, "import stop requested on every region; partial downloads are kept and `bootfs-region import` resumes them")
	var regions []wire.RegionStatus
	if err := api.do(ctx, "GET", wire.PathRegions, nil, &regions); err != nil {
		return err
	}
	hb := units.Bytes[int64]
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for _, r := range regions {
		if !r.Alive {
			fmt.Fprintf(c.App.Writer, "region %s: down (no heartbeat since %s); it will not resume the import when it starts\n",
				r.Name, r.LastHeartbeat.Format(time.RFC3339))
			continue
		}
		var st wire.ImportStatus
		for {
			err := api.at(r.URL).do(ctx, "GET", wire.PathImport, nil, &st)
			if err == nil && st.State != "running" {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("region %s did not stop its import within %s (see its log): %w", r.Name, timeout, ctx.Err())
			}
			<-tick.C
		}
		fmt.Fprintf(c.App.Writer, "region %s: %s (%s): %d of %d files, %s of %s\n", r.Name, st.State, orNone(st.Kind),
			st.FilesDone, st.FilesTotal, hb(st.BytesDone), hb(st.BytesTotal))
	}
	return nil
}

func orNone(kind string) string {
	if kind == "" {
		return "nothing ran"
	}
	return "last " + kind
}
