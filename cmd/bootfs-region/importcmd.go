package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
		Usage: "ask the running regions to import from upstream now",
		Flags: append(clientFlags(),
			&cli.BoolFlag{Name: "wait", Usage: "show progress and return when every region is done (non-zero if one failed)"},
			&cli.DurationFlag{Name: "timeout", Value: 0, Usage: "with --wait, give up after this long (0: never)"},
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
}

func runImport(c *cli.Context) error {
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	if t := c.Duration("timeout"); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	targets, err := requestImports(ctx, c, api)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "import requested on %d region(s)\n", len(targets))
	if !c.Bool("wait") {
		return nil
	}
	if err := waitImports(ctx, c, targets); err != nil {
		return err
	}
	return reportImports(c, targets)
}

// requestImports asks every live region to import now.
func requestImports(ctx context.Context, c *cli.Context, api *apiClient) ([]*importTarget, error) {
	var regions []wire.RegionStatus
	if err := api.do(ctx, "GET", wire.PathRegions, nil, &regions); err != nil {
		return nil, err
	}
	var targets []*importTarget
	for _, r := range regions {
		if !r.Alive {
			fmt.Fprintf(c.App.ErrWriter, "skipping region %s: not alive (last heartbeat %s)\n", r.Name, r.LastHeartbeat.Format(time.RFC3339))
			continue
		}
		t := &importTarget{name: r.Name, api: api.at(r.URL)}
		if err := t.api.do(ctx, "POST", wire.PathImport, nil, &t.st); err != nil {
			return nil, fmt.Errorf("region %s: %w", r.Name, err)
		}
		t.before = t.st.Imports
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return nil, errors.New("no live region to import")
	}
	return targets, nil
}

// waitImports shows progress until every target's import ended.
func waitImports(ctx context.Context, c *cli.Context, targets []*importTarget) error {
	tty := false
	if f, ok := c.App.Writer.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	var bar *progressbar.ProgressBar
	lastLog := time.Time{}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		var files, filesTotal int
		var bytes, bytesTotal int64
		allDone := true
		for _, t := range targets {
			if !t.done {
				var st wire.ImportStatus
				if err := t.api.do(ctx, "GET", wire.PathImport, nil, &st); err != nil {
					return fmt.Errorf("region %s: %w", t.name, err)
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
			fmt.Fprintf(c.App.Writer, "import: %d of %d files, %s of %s\n", files, filesTotal, units.Bytes(bytes), units.Bytes(bytesTotal))
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

// reportImports names the products that failed (their failure is not the
// import's) and fails if an import failed.
func reportImports(c *cli.Context, targets []*importTarget) error {
	var failed []string
	for _, t := range targets {
		for _, r := range t.st.Refused { // bad upstream products or archives; the rest was imported
			fmt.Fprintf(c.App.Writer, "region %s refused %s: %s\n", t.name, r.Product, r.Reason)
		}
		l := t.st.LastImport
		if l == nil {
			continue
		}
		for _, f := range l.FailedProducts {
			fmt.Fprintf(c.App.ErrWriter, "region %s: product %s %s %s failed (%s): %s\n", t.name, f.Resource, f.Architecture, f.Version, f.File, f.Reason)
		}
		if l.State == "failed" {
			failed = append(failed, fmt.Sprintf("region %s: %s", t.name, l.Error))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("import failed:\n  %s", strings.Join(failed, "\n  "))
	}
	fmt.Fprintln(c.App.Writer, "import done")
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
