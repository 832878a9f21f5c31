// Command bootfs-region is the region controller: `serve` runs the daemon;
// the other commands talk to a running region over its HTTP API (sources,
// import, status, regions) or work on files (dev-mirror).
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Name:  "bootfs-region",
		Usage: "store boot images once per sha256 and serve them to racks",
		Commands: []*cli.Command{
			serveCommand(), sourcesCommand(), importCommand(), statusCommand(),
			regionsCommand(), migrateCommand(), devMirrorCommand(),
		},
		HideHelpCommand: true,
	}
	if err := app.Run(interspersed(app.Commands, os.Args)); err != nil {
		fmt.Fprintf(os.Stderr, "bootfs-region: %v\n", err)
		os.Exit(1)
	}
}
