package clidoc

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// Bash renders a bash completion script for app: command and subcommand
// names, each command's flags, and file names for flag values and
// arguments. extraFlags adds words completed after a command path ("" for
// the top level, "/sources/add" for a subcommand).
func Bash(app *cli.App, extraFlags map[string][]string) string {
	fn := "_" + strings.NewReplacer("-", "_", ".", "_").Replace(app.Name)
	words := map[string][]string{}  // command path -> completions
	valueFlags := map[string]bool{} // "path --flag" taking a value
	var paths []string
	add := func(path string, c []*cli.Command, flags []cli.Flag) {
		paths = append(paths, path)
		for _, s := range visible(c) {
			words[path] = append(words[path], s.Names()...)
		}
		if len(c) > 0 && !hasHelp(c) {
			words[path] = append(words[path], "help")
		}
		for _, f := range flags {
			df, ok := f.(cli.DocGenerationFlag)
			for _, n := range f.Names() {
				w := "--" + n
				if len(n) == 1 {
					w = "-" + n
				}
				words[path] = append(words[path], w)
				if ok && df.TakesValue() {
					valueFlags[path+" "+w] = true
				}
			}
		}
		words[path] = append(words[path], extraFlags[path]...)
	}
	add("", app.Commands, app.VisibleFlags())
	Walk(app.Commands, nil, func(p []string, c *cli.Command) {
		add("/"+strings.Join(p, "/"), c.Subcommands, c.VisibleFlags())
	})

	var b strings.Builder
	fmt.Fprintf(&b, "# bash completion for %s, generated from its command definitions\n", app.Name)
	fmt.Fprintf(&b, "# (%s generate-docs bash); do not edit.\n\n", app.Name)
	fmt.Fprintf(&b, "%s() {\n", fn)
	b.WriteString("\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path= w i\n")
	b.WriteString("\tfor ((i = 1; i < COMP_CWORD; i++)); do\n")
	b.WriteString("\t\tw=${COMP_WORDS[i]}\n")
	b.WriteString("\t\tcase \"$path/$w\" in\n")
	// Aliases lead to the same path as the name.
	Walk(app.Commands, nil, func(p []string, c *cli.Command) {
		parent := ""
		if len(p) > 1 {
			parent = "/" + strings.Join(p[:len(p)-1], "/")
		}
		var pats []string
		for _, n := range c.Names() {
			pats = append(pats, shellQuote(parent+"/"+n))
		}
		fmt.Fprintf(&b, "\t\t%s) path=%s ;;\n", strings.Join(pats, "|"), shellQuote("/"+strings.Join(p, "/")))
	})
	b.WriteString("\t\tesac\n\tdone\n")
	var vf []string
	for k := range valueFlags {
		vf = append(vf, shellQuote(k))
	}
	sort.Strings(vf)
	if len(vf) > 0 {
		b.WriteString("\t# A flag's value: file names (-o default).\n")
		fmt.Fprintf(&b, "\tcase \"$path $prev\" in\n\t%s) return 0 ;;\n\tesac\n", strings.Join(vf, "|"))
	}
	b.WriteString("\tlocal words=\n\tcase $path in\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "\t%s) words=%s ;;\n", shellQuote(p), shellQuote(strings.Join(words[p], " ")))
	}
	b.WriteString("\tesac\n")
	b.WriteString("\t# Nothing matching: file names (-o default).\n")
	b.WriteString("\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n")
	b.WriteString("\treturn 0\n}\n")
	fmt.Fprintf(&b, "complete -o default -F %s %s\n", fn, app.Name)
	return b.String()
}

func hasHelp(cmds []*cli.Command) bool {
	for _, c := range cmds {
		if c.Name == "help" {
			return true
		}
	}
	return false
}

// shellQuote quotes s for bash with single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
