package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/units"
	"github.com/bootfs/bootfs/internal/wire"
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
			units.Bytes(r.BytesHeld), units.Bytes(r.BytesWanted))
	}
	return tw.Flush()
}

func regionsRemove(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("regions remove takes one region name (see `bootfs-region regions list`)")
	}
	name := c.Args().First()
	api, err := newAPIClient(c)
	if err != nil {
		return err
	}
	var regions []wire.RegionStatus
	if err := api.do(c.Context, "GET", wire.PathRegions, nil, &regions); err != nil {
		return err
	}
	var found *wire.RegionStatus
	var names []string
	for i, r := range regions {
		names = append(names, r.Name)
		if r.Name == name {
			found = &regions[i]
		}
	}
	// A region that stopped cleanly may be left out of the list: ask
	// anyway, the region knows.
	if err := api.do(c.Context, "DELETE", wire.PathRegions+"/"+url.PathEscape(name), nil, nil); err != nil {
		if errors.Is(err, errNotFound) {
			return fmt.Errorf("no region named %q; the regions are: %s", name, strings.Join(names, ", "))
		}
		return err
	}
	const after = "it no longer holds back new image versions; if it runs again it registers as new and copies what it lacks from its peers"
	if found == nil {
		fmt.Fprintf(c.App.Writer, "removed region %s (it was stopped)\n%s\n", name, after)
		return nil
	}
	state := "last heartbeat " + found.LastHeartbeat.Format("2006-01-02 15:04:05")
	if found.Alive && found.Stopped == nil {
		state += ", still alive: stop its bootfs-region service, or it may register again"
	}
	fmt.Fprintf(c.App.Writer, "removed region %s (%s, %s, held %s of %s)\n", name, found.URL, state,
		units.Bytes(found.BytesHeld), units.Bytes(found.BytesWanted))
	fmt.Fprintln(c.App.Writer, after)
	return nil
}
