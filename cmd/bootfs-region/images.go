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
	// Copies: running a command appends its help flag to it, and each app
	// (the tests build many) must start from the definitions.
	subs := make([]*cli.Command, 0, len(imagesSubcommands))
	for _, c := range imagesSubcommands {
		cc := *c
		subs = append(subs, &cc)
	}
	slices.SortFunc(subs, func(a, b *cli.Command) int { return strings.Compare(a.Name, b.Name) })
	return &cli.Command{
		Name:        "images",
		Usage:       "upload, list and delete boot images",
		Subcommands: subs,
	}
}
