package main

import (
	"fmt"
	"net/url"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/httpapi"
)

func regionsCommand() *cli.Command {
	return &cli.Command{
		Name:  "regions",
		Usage: "list or remove (decommission) regions",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "list registered regions", Flags: clientFlags(), Action: regionsList},
			{
				Name:      "remove",
				Usage:     "forget a region so it no longer holds back new image versions",
				ArgsUsage: "NAME",
				Description: "A region that is down holds back every new version until it catches up.\n" +
					"Removing it lets the others offer new versions. If it runs again later it\n" +
					"registers as new and copies what it lacks from its peers.",
				Flags:  clientFlags(),
				Action: regionsRemove,
			},
		},
	}
}

func regionsList(c *cli.Context) error {
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	var regions []wire.RegionStatus
	if err := api.do(c.Context, "GET", wire.PathRegions, nil, &regions); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tURL\tVERSION\tALIVE\tLAST HEARTBEAT\tHELD")
	for _, r := range regions {
		alive := fmt.Sprint(r.Alive)
		if r.Stopped != nil {
			alive = "stopped"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s of %s\n", r.Name, r.URL, r.Version, alive, r.LastHeartbeat.Format("2006-01-02 15:04:05"),
			httpapi.HumanBytes(r.BytesHeld), httpapi.HumanBytes(r.BytesWanted))
	}
	return tw.Flush()
}

func regionsRemove(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("regions remove takes one region name")
	}
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	if err := api.do(c.Context, "DELETE", wire.PathRegions+"/"+url.PathEscape(c.Args().First()), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "region %s removed\n", c.Args().First())
	return nil
}
