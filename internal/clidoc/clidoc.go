// Package clidoc gives bootfs's two commands (bootfs-region, bootfs) one
// help style and generates their man pages and bash completion from the
// same urfave/cli definitions, so that no hand-written copy can drift.
//
//   - Setup sets the version (from internal/version), the help command and
//     flag formatting: a flag's usage text is shown as written (urfave/cli
//     would take a `backticked` word as the flag's value placeholder).
//   - Man renders a man page (roff) of an app and all its commands.
//   - Bash renders a bash completion script of the same commands and flags.
//   - Command is the hidden `generate-docs` command `make deb` calls.
package clidoc

import (
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/version"
)

// Setup prepares app for running: version, help command, flag style and
// the hidden generate-docs command. Call it once, before app.Run.
func Setup(app *cli.App, page ManPage, extraCompletions map[string][]string) {
	globals.Do(func() {
		// urfave/cli keeps these in package variables, shared by every
		// app and command (the help command too): set them once.
		cli.FlagStringer = FlagString
		cli.VersionFlag = &cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version and exit"}
	})
	app.Version = version.String()
	app.HideHelpCommand = false
	app.Commands = append(app.Commands, Command(app, page, extraCompletions))
	app.Setup()
	// The help command is one value shared by the app and every command
	// with subcommands; give it the lowercase style of the others.
	if h := app.Command("help"); h != nil {
		h.Usage = "show the commands, or the help of one command"
		h.ArgsUsage = "[COMMAND]"
	}
}

var globals sync.Once

// FlagString formats a flag for help output like urfave/cli's default,
// except that the usage text is taken as written (no backtick
// placeholders), the placeholder comes from the flag's kind and name, and
// a boolean flag shows no "(default: false)".
func FlagString(f cli.Flag) string {
	df, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return ""
	}
	names := flagNames(f, Placeholder(f))
	usage := df.GetUsage()
	if d := defaultText(f); d != "" {
		usage += " (default: " + d + ")"
	}
	s := names + "\t" + strings.TrimSpace(usage)
	if env := df.GetEnvVars(); len(env) > 0 {
		s += " [$" + strings.Join(env, ", $") + "]"
	}
	return s
}

// flagNames returns "--name PLACEHOLDER, -n PLACEHOLDER".
func flagNames(f cli.Flag, placeholder string) string {
	var parts []string
	for _, n := range f.Names() {
		p := "--" + n
		if len(n) == 1 {
			p = "-" + n
		}
		if placeholder != "" {
			p += " " + placeholder
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// defaultText is the default shown for f, "" for none.
func defaultText(f cli.Flag) string {
	df := f.(cli.DocGenerationFlag)
	if _, isBool := f.(*cli.BoolFlag); isBool {
		return ""
	}
	if s := df.GetDefaultText(); s != "" {
		if s == `""` || s == "0" || s == "0s" {
			return ""
		}
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			s = s[1 : len(s)-1]
		}
		return s
	}
	return ""
}

// Placeholder is the word that stands for a flag's value: "" for a
// boolean flag, else one derived from its kind and name (FILE, DIR, URL,
// ADDR, DURATION, N, ...).
func Placeholder(f cli.Flag) string {
	df, ok := f.(cli.DocGenerationFlag)
	if !ok || !df.TakesValue() {
		return ""
	}
	switch f.(type) {
	case *cli.DurationFlag:
		return "DURATION"
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return "N"
	case *cli.Float64Flag:
		return "NUMBER"
	}
	name := f.Names()[0]
	switch {
	case strings.HasSuffix(name, "file") || name == "keyring":
		return "FILE"
	case strings.HasSuffix(name, "dir") || name == "storage" || name == "out":
		return "DIR"
	case strings.HasSuffix(name, "url") || name == "region" || strings.HasSuffix(name, "database"):
		return "URL"
	case name == "listen" || name == "serve":
		return "ADDR"
	}
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		name = name[i+1:]
	}
	return strings.ToUpper(name)
}

// visible returns cmds without the hidden ones.
func visible(cmds []*cli.Command) []*cli.Command {
	var out []*cli.Command
	for _, c := range cmds {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

// Walk calls fn for every visible command below cmds, depth first, with
// its path of names from the app ("sources add").
func Walk(cmds []*cli.Command, path []string, fn func(path []string, c *cli.Command)) {
	for _, c := range visible(cmds) {
		if c.Name == "help" {
			continue
		}
		p := append(append([]string(nil), path...), c.Name)
		fn(p, c)
		Walk(c.Subcommands, p, fn)
	}
}

// synopsis is the usage line of a command: its UsageText when set, else
// "APP PATH [options] ARGS".
func synopsis(app *cli.App, path []string, c *cli.Command) []string {
	if c.UsageText != "" {
		return strings.Split(strings.TrimSpace(c.UsageText), "\n")
	}
	s := app.Name + " " + strings.Join(path, " ")
	if len(visible(c.Subcommands)) > 0 {
		s += " COMMAND"
	}
	if len(c.VisibleFlags()) > 0 {
		s += " [options]"
	}
	if c.ArgsUsage != "" {
		s += " " + c.ArgsUsage
	}
	return []string{s}
}

// docFlags are the flags documented for a command: its visible flags less
// --help, which every command has.
func docFlags(flags []cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, f := range flags {
		if f.Names()[0] == "help" {
			continue
		}
		out = append(out, f)
	}
	return out
}
