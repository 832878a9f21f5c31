// Package cliargs lets flags follow positional arguments on both command
// lines (bootfs-region and bootfs).
package cliargs

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// Interspersed lets flags follow positional arguments, as in
// `bootfs-region sources add URL --keyring FILE`: urfave/cli v2 stops
// parsing flags at the first positional argument, so the arguments after
// the (sub)command are reordered to put flags (with their values) first.
// "--" ends flag reordering; a command with SkipFlagParsing (bootfs
// mount, which reads mount(8)'s -o itself) gets its arguments unchanged.
func Interspersed(cmds []*cli.Command, args []string) []string {
	out := append([]string(nil), args[:1]...)
	i := 1
	var cmd *cli.Command
	for i < len(args) {
		next := find(cmds, args[i])
		if next == nil {
			break
		}
		out = append(out, args[i])
		cmd, cmds = next, next.Subcommands
		i++
	}
	if cmd == nil || cmd.SkipFlagParsing {
		return args // a command that parses its own arguments gets them as typed
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(append(out, flags...), pos...)
}

func find(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
