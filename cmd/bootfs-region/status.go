package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/units"
	"github.com/bootfs/bootfs/internal/wire"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show regions, resource sets, banners, import progress and store usage",
		Flags: append(clientFlags(), &cli.BoolFlag{Name: "json", Usage: "print the raw JSON status"}),
		Action: func(c *cli.Context) error {
			api, err := newAPIClient(c)
			if err != nil {
				return err
			}
			var st wire.Status
			if c.Bool("json") {
				var raw any
				if err := api.do(c.Context, "GET", wire.PathStatus, nil, &raw); err != nil {
					return err
				}
				return printJSON(c.App.Writer, raw)
			}
			if err := api.do(c.Context, "GET", wire.PathStatus, nil, &st); err != nil {
				return err
			}
			return printStatus(c.App.Writer, st)
		},
	}
}

func printStatus(out io.Writer, st wire.Status) error {
	hb := units.Bytes[int64]
	if st.Migrating != "" {
		fmt.Fprintf(out, "MIGRATING: %s\n\n", st.Migrating)
	}
	for _, b := range st.Banners {
		fmt.Fprintf(out, "BANNER [%s, %s, since %s]: %s\n", b.Region, b.Kind, b.Since.Format("2006-01-02 15:04:05"), b.Message)
	}
	if len(st.Banners) > 0 {
		fmt.Fprintln(out)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tURL\tVERSION\tALIVE\tHELD\t%")
	for _, r := range st.Regions {
		alive := fmt.Sprint(r.Alive)
		if r.Stopped != nil {
			alive = "stopped " + r.Stopped.Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s of %s\t%s\n", r.Name, r.URL, r.Version, alive, hb(r.BytesHeld), hb(r.BytesWanted), pct(r.BytesHeld, r.BytesWanted))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "RESOURCE\tARCH\tVERSION\tLABEL\tSIZE\tAVAILABLE\tHELD BACK BY")
	for _, s := range st.Sets {
		held := strings.Join(s.HeldBackBy, ",")
		if held != "" {
			held += " (since " + s.Created.Format("2006-01-02 15:04") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\n", s.Resource, s.Architecture, s.Version, s.Label, hb(s.Size), s.Available, held)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Downloads) > 0 {
		fmt.Fprintln(out, "\nUPSTREAM DOWNLOADS IN PROGRESS")
		for _, d := range st.Downloads {
			state := ""
			if d.Expired {
				state = " (claim expired: region stopped; another takes over)"
			}
			fmt.Fprintf(out, "  %s <- %s since %s%s\n", d.Region, d.From, d.Since.Format("15:04:05"), state)
		}
	}
	im := st.Import
	fmt.Fprintf(out, "\nimport (%s): %s, %d of %d files, %s of %s", st.Region, im.State, im.FilesDone, im.FilesTotal, hb(im.BytesDone), hb(im.BytesTotal))
	if im.Error != "" {
		fmt.Fprintf(out, ", error: %s", im.Error)
	}
	failed := im.FailedProducts
	if l := im.LastImport; l != nil && im.Kind != "import" {
		failed = append(failed, l.FailedProducts...) // a sync ran since; the import's failures still stand
	}
	for _, f := range failed {
		fmt.Fprintf(out, "\n  FAILED PRODUCT %s %s %s (%s): %s: %s", f.Resource, f.Architecture, f.Version, f.Product, f.File, f.Reason)
	}
	fmt.Fprintf(out, "\nstore (%s): %s: %d files, %s, %s free, %d quarantined\n", st.Region, st.Store.Dir, st.Store.Files, hb(st.Store.Bytes), hb(int64(st.Store.FreeBytes)), st.Store.Quarantine)
	return printImports(out, st)
}

// statusImports is how many rows of import history `status` prints
// (`status --json` has every region's last 100).
const statusImports = 10

// printImports prints the newest imports and syncs of every region, and
// whether an operator stopped imports.
func printImports(out io.Writer, st wire.Status) error {
	if st.ImportsStopped != nil {
		fmt.Fprintf(out, "\nIMPORTS STOPPED by an operator since %s (bootfs-region import --stop): no region imports or syncs by itself; `bootfs-region import` resumes\n",
			st.ImportsStopped.Local().Format("2006-01-02 15:04:05"))
	}
	if len(st.Imports) == 0 {
		return nil
	}
	fmt.Fprintf(out, "\nimports (newest first, %d of %d)\n", min(len(st.Imports), statusImports), len(st.Imports))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tKIND\tSTARTED\tTOOK\tOUTCOME\tFILES\tBYTES\tERROR")
	for _, im := range st.Imports[:min(len(st.Imports), statusImports)] {
		took := "-"
		if im.Finished != nil {
			took = im.Finished.Sub(im.Started).Round(time.Second).String()
		}
		errText := im.Error
		if r := []rune(errText); len(r) > 80 {
			errText = string(r[:77]) + "..." // the whole error is in status --json
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", im.Region, im.Kind, im.Started.Local().Format("2006-01-02 15:04:05"),
			took, im.Outcome, im.Files, units.Bytes(im.Bytes), errText)
	}
	return tw.Flush()
}

func pct(a, b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b))
}
