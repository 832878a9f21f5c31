package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// imagesSubcommands are the `images` subcommands (upload, list, delete).
// Each lives in its own file and adds itself here from an init function.
var imagesSubcommands []*cli.Command

func imagesCommand() *cli.Command {
	// Copies: running an app adds --help to a command's flags, and the
	// registered commands outlive one app (tests build several).
	subs := make([]*cli.Command, len(imagesSubcommands))
	for i, c := range imagesSubcommands {
		cp := *c
		cp.Flags = slices.Clone(c.Flags)
		subs[i] = &cp
	}
	slices.SortFunc(subs, func(a, b *cli.Command) int { return strings.Compare(a.Name, b.Name) })
	return &cli.Command{
		Name:        "images",
		Usage:       "upload, list and delete boot images",
		Subcommands: subs,
	}
}
