package clidoc

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// ManPage describes the parts of a man page that are not in the app's
// definitions.
type ManPage struct {
	Section string   // "8"
	Date    string   // shown in the footer, e.g. "2026-12-03"; "" for none
	Extra   []Part   // sections after COMMANDS (FILES, EXAMPLES, ...)
	SeeAlso []string // e.g. "bootfs(8)", "mount.fuse3(8)"
}

// Part is an extra man page section; Text is in the same plain form as
// command descriptions (see roffText).
type Part struct {
	Title string
	Text  string
}

// Man renders the man page of app in roff: NAME, SYNOPSIS, DESCRIPTION
// (the app's Description), OPTIONS, COMMANDS (every visible command and
// subcommand with its synopsis, description and options), the extra
// sections, VERSION and SEE ALSO.
func Man(app *cli.App, page ManPage) string {
	var b strings.Builder
	sec := page.Section
	if sec == "" {
		sec = "8"
	}
	fmt.Fprintf(&b, ".\\\" Generated from the command definitions of %s (internal/clidoc); do not edit.\n", app.Name)
	fmt.Fprintf(&b, ".TH %s %s %q %q\n", strings.ToUpper(roffEscape(app.Name)), sec, page.Date, roffEscape(app.Name+" "+app.Version))
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", roffEscape(app.Name), roffEscape(app.Usage))

	b.WriteString(".SH SYNOPSIS\n")
	if app.UsageText != "" {
		for _, l := range strings.Split(strings.TrimSpace(app.UsageText), "\n") {
			synopsisLine(&b, l)
		}
	} else {
		synopsisLine(&b, app.Name+" COMMAND [options] [ARGUMENTS]")
	}

	if d := strings.TrimSpace(app.Description); d != "" {
		b.WriteString(".SH DESCRIPTION\n")
		roffText(&b, d)
	}
	if flags := docFlags(app.VisibleFlags()); len(flags) > 0 {
		b.WriteString(".SH OPTIONS\n")
		manFlags(&b, flags)
	}
	var cmds strings.Builder
	Walk(app.Commands, nil, func(path []string, c *cli.Command) {
		fmt.Fprintf(&cmds, ".SS %s\n", roffEscape(strings.Join(path, " ")))
		if c.Usage != "" {
			fmt.Fprintf(&cmds, "%s\n", lineStart(roffEscape(upperFirst(c.Usage))+"."))
		}
		cmds.WriteString(".PP\n")
		for _, l := range synopsis(app, path, c) {
			synopsisLine(&cmds, l)
		}
		if d := strings.TrimSpace(c.Description); d != "" && d != strings.TrimSpace(app.Description) {
			cmds.WriteString(".PP\n")
			roffText(&cmds, d)
		}
		if subs := visible(c.Subcommands); len(subs) > 0 {
			cmds.WriteString(".PP\nCommands: ")
			var names []string
			for _, s := range subs {
				if s.Name != "help" {
					names = append(names, "\\fB"+roffEscape(s.Name)+"\\fR")
				}
			}
			cmds.WriteString(strings.Join(names, ", ") + ".\n")
		}
		if flags := docFlags(c.VisibleFlags()); len(flags) > 0 {
			manFlags(&cmds, flags)
		}
	})
	if cmds.Len() > 0 {
		b.WriteString(".SH COMMANDS\n")
		b.WriteString(cmds.String())
	}
	for _, p := range page.Extra {
		fmt.Fprintf(&b, ".SH %s\n", roffEscape(strings.ToUpper(p.Title)))
		roffText(&b, strings.TrimSpace(p.Text))
	}
	b.WriteString(".SH VERSION\n")
	fmt.Fprintf(&b, "This page describes %s %s.\n", roffEscape(app.Name), roffEscape(app.Version))
	if len(page.SeeAlso) > 0 {
		b.WriteString(".SH SEE ALSO\n")
		var refs []string
		for _, r := range page.SeeAlso {
			name, sect, ok := strings.Cut(r, "(")
			if ok {
				refs = append(refs, "\\fB"+roffEscape(name)+"\\fR("+roffEscape(sect))
			} else {
				refs = append(refs, roffEscape(r))
			}
		}
		b.WriteString(strings.Join(refs, ", ") + "\n")
	}
	return b.String()
}

// synopsisLine writes one usage line, its first word (the program) bold.
func synopsisLine(b *strings.Builder, l string) {
	l = strings.TrimSpace(l)
	prog, rest, _ := strings.Cut(l, " ")
	b.WriteString(".br\n")
	fmt.Fprintf(b, "\\fB%s\\fR %s\n", roffEscape(prog), roffEscape(rest))
}

// manFlags writes flags as a tagged list.
func manFlags(b *strings.Builder, flags []cli.Flag) {
	for _, f := range flags {
		df, ok := f.(cli.DocGenerationFlag)
		if !ok {
			continue
		}
		ph := Placeholder(f)
		var names []string
		for _, n := range f.Names() {
			dash := "\\-\\-"
			if len(n) == 1 {
				dash = "\\-"
			}
			s := "\\fB" + dash + roffEscape(n) + "\\fR"
			if ph != "" {
				s += " \\fI" + ph + "\\fR"
			}
			names = append(names, s)
		}
		b.WriteString(".TP\n")
		b.WriteString(strings.Join(names, ", ") + "\n")
		usage := upperFirst(df.GetUsage())
		if !strings.HasSuffix(usage, ".") {
			usage += "."
		}
		if d := defaultText(f); d != "" {
			usage += " Default: " + d + "."
		}
		if env := df.GetEnvVars(); len(env) > 0 {
			usage += " Environment: $" + strings.Join(env, ", $") + "."
		}
		b.WriteString(lineStart(roffEscape(usage)) + "\n")
	}
}

// roffText writes plain text the way help shows it: blank lines separate
// paragraphs (filled), and a run of lines indented by three or more spaces
// is kept as written (an example, a table).
func roffText(b *strings.Builder, text string) {
	lines := strings.Split(text, "\n")
	inPre := false
	for i, l := range lines {
		pre := strings.HasPrefix(l, "   ") && strings.TrimSpace(l) != ""
		blank := strings.TrimSpace(l) == ""
		switch {
		case pre && !inPre:
			b.WriteString(".PP\n.RS 4\n.nf\n")
			inPre = true
		case !pre && !blank && inPre:
			b.WriteString(".fi\n.RE\n.PP\n")
			inPre = false
		}
		if blank {
			// Inside a preformatted run a blank line followed by more of
			// it stays a blank line; otherwise it is a paragraph break.
			if inPre && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "   ") {
				b.WriteString("\n")
			} else if !inPre {
				b.WriteString(".PP\n")
			}
			continue
		}
		if inPre {
			l = strings.TrimPrefix(l, "   ")
			b.WriteString(lineStart(roffEscape(l)) + "\n")
			continue
		}
		b.WriteString(lineStart(roffEscape(strings.TrimSpace(l))) + "\n")
	}
	if inPre {
		b.WriteString(".fi\n.RE\n")
	}
}

// roffEscape escapes backslashes and hyphens for roff.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	return s
}

// lineStart protects a line that would start with a roff control
// character.
func lineStart(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		return `\&` + s
	}
	return s
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
