package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/wire"
)

// ubuntuKeyring is the keyring used when a source is given none.
const ubuntuKeyring = "/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg"

// selectionFlags choose what to import from a source: --select, or the
// one-selection shorthand --os/--release/--arch/--subarch/--label.
func selectionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: "select", Value: &selectSpecs{}, Usage: "select OS[/RELEASE[/ARCH[/SUBARCH[/LABEL]]]], repeatable; each part " +
			"a comma list or * (missing parts: *), e.g. --select ubuntu/jammy,noble/amd64,arm64 --select centos/centos70. " +
			"Bootloaders come with any selection. Not with --os/--release/--arch/--subarch/--label"},
		&cli.StringFlag{Name: "os", Value: "ubuntu", Usage: "one-selection shorthand: operating system to select (* for all)"},
		&cli.StringSliceFlag{Name: "release", Usage: "one-selection shorthand: release to select, repeatable (default: all)"},
		&cli.StringSliceFlag{Name: "arch", Usage: "one-selection shorthand: architecture, repeatable (default: all)"},
		&cli.StringSliceFlag{Name: "subarch", Usage: "one-selection shorthand: subarchitecture, repeatable (default: all)"},
		&cli.StringSliceFlag{Name: "label", Usage: "one-selection shorthand: label, repeatable (default: all)"},
	}
}

func sourcesCommand() *cli.Command {
	return &cli.Command{
		Name:  "sources",
		Usage: "manage upstream simplestreams mirrors",
		Subcommands: []*cli.Command{
			{
				Name:  "add",
				Usage: "add a source and what to select from it (refused if its URL exists: use sources update)",
				Description: "The region fetches the mirror's index and verifies it with the keyring before saving " +
					"(a bad keyring, an unreachable URL or a bad signature fails with what to fix), and warns " +
					"about each selection that matches nothing the mirror offers.",
				ArgsUsage: "URL",
				Flags: append(append(clientFlags(),
					&cli.StringFlag{Name: "keyring", Usage: "OpenPGP keyring verifying the mirror (binary .gpg or armored; default " + ubuntuKeyring + ")"},
					&cli.BoolFlag{Name: "unsigned", Usage: "read index.json without signature checks (test mirrors only)"},
					&cli.IntFlag{Name: "priority", Usage: "when two sources carry the same product, the higher priority wins " +
						"whatever the versions (ties: the newer version, then the source added first)"},
				), selectionFlags()...),
				Action: sourcesAdd,
			},
			{
				Name:  "update",
				Usage: "change the selections, keyring or priority of a source",
				Description: "Only what is given changes. Selections given replace all the source's selections; " +
					"what no selection picks any more leaves the boot tree at once, and its files are deleted " +
					"after --cleanup-grace on every region.",
				ArgsUsage: "URL",
				Flags: append(append(clientFlags(),
					&cli.StringFlag{Name: "keyring", Usage: "new OpenPGP keyring verifying the mirror (binary .gpg or armored)"},
					&cli.BoolFlag{Name: "unsigned", Usage: "read index.json without signature checks (test mirrors only); --unsigned=false to check again"},
					&cli.IntFlag{Name: "priority", Usage: "new priority (the higher wins between sources carrying the same product)"},
				), selectionFlags()...),
				Action: sourcesUpdate,
			},
			{Name: "list", Usage: "list sources with their priority and selections", Flags: clientFlags(), Action: sourcesList},
			{
				Name:      "remove",
				Usage:     "remove a source; what nothing selects any more leaves the tree, its files go after the grace",
				ArgsUsage: "URL", Flags: clientFlags(), Action: sourcesRemove,
			},
			{
				Name:  "available",
				Usage: "list what a mirror offers (os, release, arch, subarches, labels, newest version, size)",
				Description: "The region reads the mirror (it has the network path to it). A configured source is " +
					"read with its keyring; another needs --keyring (default " + ubuntuKeyring + ") or --unsigned.",
				ArgsUsage: "URL",
				Flags: append(clientFlags(),
					&cli.StringFlag{Name: "keyring", Usage: "OpenPGP keyring verifying the mirror (binary .gpg or armored)"},
					&cli.BoolFlag{Name: "unsigned", Usage: "read index.json without signature checks (test mirrors only)"},
					&cli.BoolFlag{Name: "json", Usage: "print the list as JSON ([]AvailableProduct)"},
				),
				Action: sourcesAvailable,
			},
		},
	}
}

// selectSpecs collects the --select values as given: a string slice flag
// would split them at their commas.
type selectSpecs []string

func (s *selectSpecs) Set(v string) error { *s = append(*s, v); return nil }
func (s *selectSpecs) String() string     { return strings.Join(*s, " ") }

// shorthandFlags are the one-selection flags --select excludes.
var shorthandFlags = []string{"os", "release", "arch", "subarch", "label"}

// selectionsFrom reads the selection flags; changed is false when none
// was given (the default selection then applies: all releases of --os).
func selectionsFrom(c *cli.Context) (sels []wire.Selection, changed bool, err error) {
	var short []string
	for _, f := range shorthandFlags {
		if c.IsSet(f) {
			short = append(short, "--"+f)
		}
	}
	var specs []string
	if v, ok := c.Generic("select").(*selectSpecs); ok {
		specs = *v
	}
	if len(specs) > 0 {
		if len(short) > 0 {
			return nil, false, fmt.Errorf("--select cannot be mixed with %s: write everything as --select "+
				"OS[/RELEASE[/ARCH[/SUBARCH[/LABEL]]]] (repeatable), or use only the shorthand flags", strings.Join(short, ", "))
		}
		sels, err = parseSelects(specs)
		return sels, true, err
	}
	releases := c.StringSlice("release")
	if len(releases) == 0 {
		releases = []string{"*"}
	}
	for _, rel := range releases {
		sels = append(sels, wire.Selection{
			OS: c.String("os"), Release: rel, Arches: c.StringSlice("arch"),
			Subarches: c.StringSlice("subarch"), Labels: c.StringSlice("label"),
		})
	}
	return sels, len(short) > 0, nil
}

// parseSelects turns --select values into selections: one per os and
// release (the database keeps one per pair), the other parts as lists.
// Two values naming the same os and release are merged when they differ
// in one list only; otherwise they are refused.
func parseSelects(specs []string) ([]wire.Selection, error) {
	var out []wire.Selection
	for _, spec := range specs {
		parts := strings.Split(spec, "/")
		if len(parts) > 5 {
			return nil, fmt.Errorf("--select %q: too many parts: the form is OS[/RELEASE[/ARCH[/SUBARCH[/LABEL]]]]", spec)
		}
		lists := make([][]string, 5)
		for i := range lists {
			lists[i] = []string{"*"}
			if i < len(parts) {
				l, err := splitList(parts[i])
				if err != nil {
					return nil, fmt.Errorf("--select %q: %s: %w", spec, []string{"os", "release", "arch", "subarch", "label"}[i], err)
				}
				lists[i] = l
			}
		}
		for _, osName := range lists[0] {
			for _, rel := range lists[1] {
				sel := wire.Selection{OS: osName, Release: rel, Arches: lists[2], Subarches: lists[3], Labels: lists[4]}
				var err error
				if out, err = mergeSelection(out, sel); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// splitList splits a comma list; "*" anywhere makes it "*".
func splitList(s string) ([]string, error) {
	if s == "" {
		return nil, errors.New("empty (write * for all)")
	}
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v == "" {
			return nil, fmt.Errorf("%q has an empty item", s)
		}
		if v == "*" {
			return []string{"*"}, nil
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

func mergeSelection(sels []wire.Selection, sel wire.Selection) ([]wire.Selection, error) {
	for i, o := range sels {
		if o.OS != sel.OS || o.Release != sel.Release {
			continue
		}
		a, s, l := slices.Equal(o.Arches, sel.Arches), slices.Equal(o.Subarches, sel.Subarches), slices.Equal(o.Labels, sel.Labels)
		switch {
		case a && s && l:
		case s && l:
			sels[i].Arches = union(o.Arches, sel.Arches)
		case a && l:
			sels[i].Subarches = union(o.Subarches, sel.Subarches)
		case a && s:
			sels[i].Labels = union(o.Labels, sel.Labels)
		default:
			return nil, fmt.Errorf("--select: two selections of %s/%s differ in more than one of arch, subarch and label: "+
				"one selection per os and release is kept, so write them as one (e.g. %s/%s/ARCH1,ARCH2/SUBARCH1,SUBARCH2)",
				sel.OS, sel.Release, sel.OS, sel.Release)
		}
		return sels, nil
	}
	return append(sels, sel), nil
}

func union(a, b []string) []string {
	if slices.Contains(a, "*") || slices.Contains(b, "*") {
		return []string{"*"}
	}
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// readKeyring reads --keyring, or the Ubuntu keyring when def is set and
// no --keyring was given; nil without either.
func readKeyring(c *cli.Context, def bool) ([]byte, error) {
	if k := c.String("keyring"); k != "" {
		b, err := os.ReadFile(k)
		if err != nil {
			return nil, fmt.Errorf("read keyring: %w", err)
		}
		return b, nil
	}
	if !def {
		return nil, nil
	}
	b, err := os.ReadFile(ubuntuKeyring)
	if err != nil {
		return nil, fmt.Errorf("no --keyring given and %s unreadable (%v): pass --keyring FILE, or --unsigned for a test mirror", ubuntuKeyring, err)
	}
	return b, nil
}

func sourcesAdd(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("sources add takes one URL")
	}
	src := wire.Source{URL: c.Args().First(), Unsigned: c.Bool("unsigned"), Priority: c.Int("priority")}
	sels, _, err := selectionsFrom(c)
	if err != nil {
		return err
	}
	src.Selections = sels
	if !src.Unsigned {
		if src.Keyring, err = readKeyring(c, true); err != nil {
			return err
		}
	}
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	var res wire.SourceResult
	if err := api.do(c.Context, "POST", wire.PathSources, src, &res); err != nil {
		return err
	}
	printWarnings(c, res)
	fmt.Fprintf(c.App.Writer, "source %s added (%d products selected, priority %d); run `bootfs-region import --wait` to import now\n",
		src.URL, res.Products, src.Priority)
	return nil
}

func printWarnings(c *cli.Context, res wire.SourceResult) {
	for _, w := range res.Warnings {
		fmt.Fprintf(c.App.ErrWriter, "warning: %s\n", w)
	}
}

func sourcesUpdate(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("sources update takes one URL")
	}
	u := c.Args().First()
	sels, changed, err := selectionsFrom(c)
	if err != nil {
		return err
	}
	if !changed && !c.IsSet("unsigned") && !c.IsSet("keyring") && !c.IsSet("priority") {
		return fmt.Errorf("nothing to change: give --select (or --os/--release/...), --keyring, --unsigned or --priority")
	}
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	var srcs []wire.Source
	if err := api.do(c.Context, "GET", wire.PathSources, nil, &srcs); err != nil {
		return err
	}
	i := slices.IndexFunc(srcs, func(s wire.Source) bool { return s.URL == u })
	if i < 0 {
		return fmt.Errorf("no source with url %s: add it with `bootfs-region sources add %s`", u, u)
	}
	src := srcs[i]
	if changed {
		src.Selections = sels
	}
	if c.IsSet("unsigned") {
		src.Unsigned = c.Bool("unsigned")
	}
	if c.IsSet("keyring") {
		if src.Keyring, err = readKeyring(c, false); err != nil {
			return err
		}
	}
	if c.IsSet("priority") {
		src.Priority = c.Int("priority")
	}
	var res wire.SourceResult
	if err := api.do(c.Context, "PUT", wire.PathSources, src, &res); err != nil {
		return err
	}
	printWarnings(c, res)
	fmt.Fprintf(c.App.Writer, "source %s updated (%d products selected, priority %d); %d resource sets no selection picks any more "+
		"left the boot tree, their files are deleted after --cleanup-grace on every region\n", u, res.Products, src.Priority, res.Retired)
	return nil
}

func sourcesList(c *cli.Context) error {
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	var srcs []wire.Source
	if err := api.do(c.Context, "GET", wire.PathSources, nil, &srcs); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "URL\tSIGNED\tPRIORITY\tOS\tRELEASE\tARCHES\tSUBARCHES\tLABELS")
	for _, s := range srcs {
		signed := "yes"
		if s.Unsigned {
			signed = "NO"
		}
		if len(s.Selections) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%d\t(nothing selected)\t\t\t\t\n", s.URL, signed, s.Priority)
		}
		for _, sel := range s.Selections {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.URL, signed, s.Priority, sel.OS, sel.Release,
				strings.Join(sel.Arches, ","), strings.Join(sel.Subarches, ","), strings.Join(sel.Labels, ","))
		}
	}
	return tw.Flush()
}

func sourcesRemove(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("sources remove takes one URL")
	}
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	u := c.Args().First()
	var res wire.SourceResult
	if err := api.do(c.Context, "DELETE", wire.PathSources+"?url="+url.QueryEscape(u), nil, &res); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "source %s removed; %d resource sets no remaining selection picks left the boot tree, "+
		"their files are deleted after --cleanup-grace on every region\n", u, res.Retired)
	return nil
}

func sourcesAvailable(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("sources available takes one URL")
	}
	u := c.Args().First()
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	var prods []wire.AvailableProduct
	if c.IsSet("keyring") || c.Bool("unsigned") {
		src := wire.Source{URL: u, Unsigned: c.Bool("unsigned")}
		if !src.Unsigned {
			if src.Keyring, err = readKeyring(c, false); err != nil {
				return err
			}
		}
		err = api.do(c.Context, "POST", wire.PathAvailable, src, &prods)
	} else {
		err = api.do(c.Context, "GET", wire.PathAvailable+"?url="+url.QueryEscape(u), nil, &prods)
		if err != nil && strings.Contains(err.Error(), "404") {
			// Not a configured source: read it with the Ubuntu keyring.
			key, kerr := readKeyring(c, true)
			if kerr != nil {
				return fmt.Errorf("%s is not a configured source: %w", u, kerr)
			}
			err = api.do(c.Context, "POST", wire.PathAvailable, wire.Source{URL: u, Keyring: key}, &prods)
		}
	}
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, prods)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OS\tRELEASE\tARCH\tSUBARCHES\tLABELS\tNEWEST VERSION\tSIZE")
	for _, p := range prods {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.OS, p.Release, p.Arch, strings.Join(p.Subarches, ","),
			strings.Join(p.Labels, ","), p.NewestVersion, humanSize(p.Size))
	}
	return tw.Flush()
}
