package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/wire"
)

func sourcesCommand() *cli.Command {
	return &cli.Command{
		Name:  "sources",
		Usage: "manage upstream simplestreams mirrors",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add (or replace) a source and what to select from it",
				ArgsUsage: "URL",
				Flags: append(clientFlags(),
					&cli.StringFlag{Name: "keyring", Usage: "OpenPGP keyring verifying the mirror (binary .gpg or armored)"},
					&cli.BoolFlag{Name: "unsigned", Usage: "read index.json without signature checks (test mirrors only)"},
					&cli.StringFlag{Name: "os", Value: "ubuntu", Usage: "operating system to select (* for all)"},
					&cli.StringSliceFlag{Name: "release", Usage: "release to select, repeatable (default: all)"},
					&cli.StringSliceFlag{Name: "arch", Usage: "architecture, repeatable (default: all)"},
					&cli.StringSliceFlag{Name: "subarch", Usage: "subarchitecture, repeatable (default: all)"},
					&cli.StringSliceFlag{Name: "label", Usage: "label, repeatable (default: all)"},
				),
				Action: sourcesAdd,
			},
			{Name: "list", Usage: "list sources", Flags: clientFlags(), Action: sourcesList},
			{Name: "remove", Usage: "remove a source", ArgsUsage: "URL", Flags: clientFlags(), Action: sourcesRemove},
		},
	}
}

func sourcesAdd(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("sources add takes one URL")
	}
	src := wire.Source{URL: c.Args().First(), Unsigned: c.Bool("unsigned")}
	if k := c.String("keyring"); k != "" {
		b, err := os.ReadFile(k)
		if err != nil {
			return fmt.Errorf("read keyring: %w", err)
		}
		src.Keyring = b
	} else if !src.Unsigned {
		const ubuntu = "/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg"
		b, err := os.ReadFile(ubuntu)
		if err != nil {
			return fmt.Errorf("no --keyring given and %s unreadable (%v): pass --keyring FILE, or --unsigned for a test mirror", ubuntu, err)
		}
		src.Keyring = b
	}
	releases := c.StringSlice("release")
	if len(releases) == 0 {
		releases = []string{"*"}
	}
	for _, rel := range releases {
		src.Selections = append(src.Selections, wire.Selection{
			OS: c.String("os"), Release: rel, Arches: c.StringSlice("arch"),
			Subarches: c.StringSlice("subarch"), Labels: c.StringSlice("label"),
		})
	}
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	if err := api.do(c.Context, "POST", wire.PathSources, src, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "source %s added; run `bootfs-region import --wait` to import now "+
		"(sets no selection picks any more leave the boot tree)\n", src.URL)
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
	fmt.Fprintln(tw, "URL\tSIGNED\tOS\tRELEASE\tARCHES\tSUBARCHES\tLABELS")
	for _, s := range srcs {
		signed := "yes"
		if s.Unsigned {
			signed = "NO"
		}
		for _, sel := range s.Selections {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.URL, signed, sel.OS, sel.Release,
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
	if err := api.do(c.Context, "DELETE", wire.PathSources+"?url="+url.QueryEscape(u), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "source %s removed; the resource sets no remaining selection picks leave the boot tree now, "+
		"and their files are deleted after --cleanup-grace on every region\n", u)
	return nil
}
