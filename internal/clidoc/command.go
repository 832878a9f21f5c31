package clidoc

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"
)

// Command is the hidden `generate-docs man|bash` command: it prints app's
// man page or bash completion script (make deb installs both).
func Command(app *cli.App, page ManPage, extraFlags map[string][]string) *cli.Command {
	return &cli.Command{
		Name:      "generate-docs",
		Usage:     "print the man page (man) or bash completion script (bash)",
		ArgsUsage: "man|bash",
		Hidden:    true,
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "man":
				_, err := fmt.Fprint(c.App.Writer, Man(app, page))
				return err
			case "bash":
				_, err := fmt.Fprint(c.App.Writer, Bash(app, extraFlags))
				return err
			}
			return errors.New("usage: " + app.Name + " generate-docs man|bash")
		},
	}
}
