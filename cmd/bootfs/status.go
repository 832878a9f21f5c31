package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/fs"
	"github.com/bootfs/bootfs/internal/units"
	"github.com/bootfs/bootfs/rack"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show a mount's tree, cache, reads and regions",
		ArgsUsage: "MOUNTPOINT",
		Description: "Reads the status of the bootfs mount at MOUNTPOINT (the extended attribute\n" +
			fs.StatusXattr + " of its root) and prints it; --json prints it as JSON.",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the status as JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("usage: bootfs status MOUNTPOINT [--json]")
			}
			raw, err := readStatus(c.Args().First())
			if err != nil {
				return err
			}
			if c.Bool("json") {
				var v any
				if err := json.Unmarshal(raw, &v); err != nil {
					return fmt.Errorf("status is not JSON: %w", err)
				}
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			var st rack.Status
			if err := json.Unmarshal(raw, &st); err != nil {
				return fmt.Errorf("status is not JSON: %w", err)
			}
			return printStatus(c.App.Writer, &st, time.Now())
		},
	}
}

// readStatus reads the status extended attribute of a mount's root.
func readStatus(dir string) ([]byte, error) {
	buf := make([]byte, 64<<10) // XATTR_SIZE_MAX
	for range 3 {
		n, err := unix.Getxattr(dir, fs.StatusXattr, buf)
		switch {
		case err == nil:
			return buf[:n], nil
		case errors.Is(err, unix.ERANGE):
			continue // grew between size query and read; retry
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
			return nil, fmt.Errorf("%s is not the root of a bootfs mount", dir)
		default:
			return nil, fmt.Errorf("read status of %s: %w", dir, err)
		}
	}
	return nil, fmt.Errorf("read status of %s: it keeps changing size", dir)
}

// printStatus writes st as a few aligned lines and a table of regions.
func printStatus(w io.Writer, st *rack.Status, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "mount\t%s from %s, up %s\n", st.Mountpoint, st.Source, ago(now, st.Started))
	t := st.Tree
	poll := "last answer " + ago(now, t.LastAnswer) + " ago"
	switch {
	case t.Offline:
		poll = "offline since " + t.OfflineSince.UTC().Format(time.RFC3339) + " (" + ago(now, t.OfflineSince) +
			"): serving the last tree and the cached files, retrying the regions; " + oneLine(t.LastError)
	case t.Failing:
		poll = "NO REGION ANSWERS since " + ago(now, t.LastAnswer) + ": " + t.LastError
	}
	fmt.Fprintf(tw, "tree\tgeneration %s, %d files, %s; installed %s ago, %d updates; %s\n",
		t.Generation, t.Files, bytesStr(t.Bytes), ago(now, t.Updated), t.Updates, poll)
	if t.Skipped > 0 {
		fmt.Fprintf(tw, "\t%d entries skipped as bad or clashing (the rest is served):\n", t.Skipped)
		for _, sk := range t.SkippedEntries {
			fmt.Fprintf(tw, "\t  %q: %s\n", sk.Path, oneLine(sk.Why))
		}
		if n := t.Skipped - len(t.SkippedEntries); n > 0 {
			fmt.Fprintf(tw, "\t  and %d more\n", n)
		}
	}
	if len(t.TooLarge) > 0 {
		fmt.Fprintf(tw, "\tWARNING: %d files larger than cache_size (%s) are read through, never held, so every boot fetches them again: %s; mount with cache_size=%s to hold them\n",
			len(t.TooLarge), bytesStr(st.Cache.Limit), strings.Join(t.TooLarge, ", "), sizeOption(t.SuggestedCacheSize))
	}
	if t.Refused > 0 {
		fmt.Fprintf(tw, "\t%d trees refused as invalid: %s\n", t.Refused, t.LastError)
	}
	c := st.Cache
	pct := 0.0
	if c.Limit > 0 {
		pct = 100 * float64(c.Used) / float64(c.Limit)
	}
	fmt.Fprintf(tw, "cache\t%s of %s (%.0f%%) in %s: %d files, %d blocks; %d passthrough opens; %d evicted, %d corrupt dropped, %d disk errors%s\n",
		bytesStr(c.Used), bytesStr(c.Limit), pct, c.Dir, c.Files, c.Blocks, c.Passthrough, c.Evictions, c.Corrupt, c.DiskErrors,
		map[bool]string{true: ", DEGRADED (not caching)", false: ""}[c.Degraded])
	r := st.Reads
	fmt.Fprintf(tw, "reads\thit ratio %.1f%% (%d blocks hit, %d missed); %d reads, %s read, %d read errors\n",
		100*r.HitRatio, r.BlockHits, r.BlockMisses, r.Reads, bytesStr(int64(r.ReadBytes)), r.ReadErrors)
	fmt.Fprintf(tw, "fetches\t%d blocks, %s (%d by readahead), %d in flight, %d failed verification\n",
		r.Fetches, bytesStr(r.BytesFetched), r.ReadaheadFetches, r.InFlight, r.VerifyFailures)
	if r.WholeFileChecks > 0 || r.WholeFileFailures > 0 {
		bad := ""
		if r.WholeFileFailures > 0 {
			bad = fmt.Sprintf(", %d FAILED (a region sent a wrong block digest list; those files answer EIO)", r.WholeFileFailures)
		}
		fmt.Fprintf(tw, "checks\t%d whole cached files checked against their sha256 before passthrough%s\n", r.WholeFileChecks, bad)
	}
	if pf := st.Prefetch; pf != nil {
		fmt.Fprintf(tw, "prefetch\t%s: %d of %d files, %s of %s; %s fetched at %s/s (limit %s/s)%s\n",
			strings.Join(pf.Globs, ":"), pf.FilesDone, pf.FilesTotal, bytesStr(pf.BytesDone), bytesStr(pf.BytesTotal),
			bytesStr(pf.BytesFetched), bytesStr(int64(pf.BytesPerSecond)), bytesStr(pf.RateLimit),
			map[bool]string{true: ", paused for reads", false: ""}[pf.Paused])
		if pf.Current != "" {
			fmt.Fprintf(tw, "\tnow %s (%s of %s), %d more queued\n", pf.Current, bytesStr(pf.CurrentDone), bytesStr(pf.CurrentSize), pf.Queued)
		}
		if pf.Failed > 0 {
			fmt.Fprintf(tw, "\t%d files given up (fetched when first read instead): %s\n", pf.Failed, oneLine(pf.LastError))
		}
	}
	if st.Metrics != "" {
		fmt.Fprintf(tw, "metrics\thttp://%s/metrics\n", st.Metrics)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tNAME\tFETCHED\tREQUESTS\tERRORS\tCORRUPT\tSTATE")
	for _, rg := range st.Regions {
		state := "ok"
		switch {
		case !rg.BackoffUntil.IsZero() && rg.BackoffUntil.After(now):
			state = "backing off " + rg.BackoffUntil.Sub(now).Round(time.Second).String() + ": " + oneLine(rg.LastError)
		case rg.Alive != nil && !*rg.Alive:
			state = "no heartbeat"
		}
		name := rg.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", rg.URL, name, bytesStr(rg.BytesFetched),
			rg.Requests, rg.Errors, rg.VerifyFailures, state)
	}
	return tw.Flush()
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < time.Second {
		return "0s"
	}
	return d.Round(time.Second).String()
}

// bytesStr formats n with a binary unit (internal/units).
func bytesStr(n int64) string { return units.Bytes(n) }

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", "; ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// statusOf is readStatus decoded, for warm's report.
func statusOf(dir string) (*rack.Status, error) {
	raw, err := readStatus(dir)
	if err != nil {
		return nil, err
	}
	var st rack.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("status of %s is not JSON: %w", dir, err)
	}
	return &st, nil
}

// sizeOption formats n as a cache_size= value parseSize reads back: whole
// GiB when it is a multiple of a GiB (TooLarge rounds its suggestion so),
// else MiB rounded up.
func sizeOption(n int64) string {
	if n%(1<<30) == 0 {
		return fmt.Sprintf("%dG", n>>30)
	}
	return fmt.Sprintf("%dM", (n+1<<20-1)>>20)
}
