package main

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/wire"
)

func init() {
	imagesSubcommands = append(imagesSubcommands,
		&cli.Command{
			Name:  "list",
			Usage: "list every image (upstream, uploaded, migrated) with its versions, sizes, origin and where it is",
			Description: "For each version: its size, whether it is the one offered in the boot tree, the regions " +
				"holding all of it, and the regions holding it back (a newer version is offered only once every " +
				"region holds it). Deleted versions show when they were deleted; their files go after --cleanup-grace.",
			Flags: append(clientFlags(),
				&cli.BoolFlag{Name: "json", Usage: "print the list as JSON ([]Image, as the API serves it)"},
			),
			Action: imagesList,
		},
		&cli.Command{
			Name:  "delete",
			Usage: "withdraw an image from the boot tree of every region at once; its files go after --cleanup-grace",
			Description: "NAME takes MAAS's forms: ubuntu/noble, custom/NAME, or a bare NAME for custom/NAME. " +
				"An upstream image a source selection still picks is refused (the next import would bring it back): " +
				"change the selection with sources update, or pass --deselect.",
			ArgsUsage: "NAME",
			Flags: append(clientFlags(),
				&cli.StringFlag{Name: "architecture", Usage: "only this architecture: ARCH/SUBARCH (e.g. amd64/ga-24.04), or ARCH for all its subarches (default: all)"},
				&cli.BoolFlag{Name: "deselect", Usage: "also take the image out of the source selections picking it, so no import brings it back"},
			),
			Action: imagesDelete,
		},
	)
}

// humanSize writes a byte count in KiB, MiB or GiB.
func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

func imagesList(c *cli.Context) error {
	if c.NArg() != 0 {
		return fmt.Errorf("images list takes no arguments")
	}
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	var imgs []wire.Image
	if err := api.do(c.Context, "GET", wire.PathImages, nil, &imgs); err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, imgs)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tARCHITECTURE\tORIGIN\tVERSION\tLABEL\tSIZE\tSTATE\tHELD BY\tHELD BACK BY")
	for _, img := range imgs {
		for _, v := range img.Versions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", img.Name, img.Architecture, img.Origin, v.Version,
				v.Label, humanSize(v.Size), versionState(v), orDash(strings.Join(v.HeldBy, ",")),
				orDash(strings.Join(v.HeldBackBy, ",")))
		}
	}
	return tw.Flush()
}

func versionState(v wire.ImageVersion) string {
	switch {
	case v.Retired != nil:
		return "withdrawn " + v.Retired.UTC().Format("2006-01-02 15:04")
	case v.Offered:
		return "offered"
	case len(v.HeldBackBy) > 0:
		return "held back"
	default:
		return "superseded"
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func imagesDelete(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("images delete takes one NAME (e.g. ubuntu/noble, custom/NAME or NAME)")
	}
	q := url.Values{"name": {c.Args().First()}}
	if a := c.String("architecture"); a != "" {
		q.Set("architecture", a)
	}
	if c.Bool("deselect") {
		q.Set("deselect", "1")
	}
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	var res wire.ImageDeleted
	if err := api.do(c.Context, "DELETE", wire.PathImages+"?"+q.Encode(), nil, &res); err != nil {
		return err
	}
	for _, d := range res.Deselected {
		fmt.Fprintf(c.App.Writer, "deselected: %s\n", d)
	}
	var names []string
	for _, img := range res.Images {
		names = append(names, img.Name+" "+img.Architecture)
	}
	if res.Retired == 0 {
		fmt.Fprintf(c.App.Writer, "%s: already deleted; its files go after --cleanup-grace\n", strings.Join(names, ", "))
		return nil
	}
	fmt.Fprintf(c.App.Writer, "deleted %s (%d versions): withdrawn from the boot tree of every region now; "+
		"its files are deleted after --cleanup-grace\n", strings.Join(names, ", "), res.Retired)
	return nil
}
