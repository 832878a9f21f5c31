// Command bootfs-region is the region controller: `serve` runs the daemon;
// the other commands talk to a running region over its HTTP API (sources,
// import, status, regions) or work on files (dev-mirror).
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/cliargs"
	"github.com/bootfs/bootfs/internal/clidoc"
)

func main() {
	app := newApp()
	if err := app.Run(cliargs.Interspersed(app.Commands, os.Args)); err != nil {
		fmt.Fprintf(os.Stderr, "bootfs-region: %v\n", err)
		os.Exit(1)
	}
}

// newApp returns the command line, set up for running (help, --version,
// the hidden generate-docs command of the man page and completion).
func newApp() *cli.App {
	app := &cli.App{
		Name:  "bootfs-region",
		Usage: "store boot images once per sha256 and serve them to racks",
		Description: "A region keeps every boot file once per sha256 in its store (--storage), its metadata in\n" +
			"PostgreSQL, imports images from simplestreams mirrors and serves the boot tree and its\n" +
			"files, block by block, to racks (bootfs) and to peer regions over HTTP on port 5240.\n" +
			"`bootfs-region serve` runs the daemon (the bootfs-region systemd service); the other\n" +
			"commands talk to a running region (--region, default http://localhost:5240) with the\n" +
			"shared secret (--secret-file, default /var/lib/maas/secret).",
		Commands: []*cli.Command{
			serveCommand(), sourcesCommand(), importCommand(), imagesCommand(), statusCommand(),
			regionsCommand(), migrateCommand(), devMirrorCommand(),
		},
	}
	clidoc.Setup(app, manPage, nil)
	return app
}

var manPage = clidoc.ManPage{
	Section: "8",
	Extra: []clidoc.Part{
		{Title: "Files", Text: `/etc/default/bootfs-region
   BOOTFS_REGION_OPTS (extra serve flags, e.g. --name and --url) and
   BOOTFS_DATABASE_URL (an external PostgreSQL) for the systemd service.

/var/lib/maas/image-storage
   the store: one file per sha256 (owned by the bootfs-region user).

/var/lib/bootfs-region
   the embedded PostgreSQL's cluster and socket (without --database-url).

/var/lib/maas/secret
   the shared secret of all regions and racks (created at installation, mode 0640,
   group bootfs-region).`},
		{Title: "Examples", Text: `Add the Ubuntu images and import them:

   bootfs-region sources add http://images.maas.io/ephemeral-v3/stable/ --keyring /usr/share/keyrings/ubuntu-cloudimage-keyring.gpg
   bootfs-region import --wait
   bootfs-region status`},
	},
	SeeAlso: []string{"bootfs(8)", "systemd.service(5)"},
}
