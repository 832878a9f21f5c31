package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/cliargs"
	"github.com/bootfs/bootfs/internal/clidoc"
	"github.com/urfave/cli/v2"
)

// run runs the app as main does and returns what it printed.
func run(t *testing.T, args ...string) string {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	argv := append([]string{"bootfs-region"}, args...)
	if err := app.Run(cliargs.Interspersed(app.Commands, argv)); err != nil {
		t.Fatalf("bootfs-region %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestHelpEverywhere: `help`, `--help` and every command's and
// subcommand's help print the same NAME/USAGE layout, without errors.
func TestHelpEverywhere(t *testing.T) {
	forms := [][]string{{"--help"}, {"-h"}, {"help"}}
	clidoc.Walk(newApp().Commands, nil, func(p []string, _ *cli.Command) {
		forms = append(forms, append(append([]string(nil), p...), "--help"))
		forms = append(forms, append([]string{"help"}, p...))
	})
	if len(forms) < 20 {
		t.Fatalf("only %d help forms: commands missing?", len(forms))
	}
	for _, f := range forms {
		out := run(t, f...)
		if !strings.HasPrefix(out, "NAME:\n   bootfs-region") || !strings.Contains(out, "\nUSAGE:\n") {
			t.Errorf("bootfs-region %s: not the common help layout:\n%s", strings.Join(f, " "), out)
		}
		for _, bad := range []string{"Incorrect Usage", "No help topic", "Shows a list of commands"} {
			if strings.Contains(out, bad) {
				t.Errorf("bootfs-region %s: %q in\n%s", strings.Join(f, " "), bad, out)
			}
		}
	}
}

// TestBacktickUsage: a backticked word in a flag's usage stays in the
// text; it does not become the flag's value placeholder.
func TestBacktickUsage(t *testing.T) {
	out := run(t, "serve", "--help")
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "--legacy-database ") {
			line = l
		}
	}
	if !strings.Contains(line, "--legacy-database URL ") || !strings.Contains(line, "(see `bootfs-region migrate`)") {
		t.Errorf("--legacy-database help line: %q", line)
	}
}

func TestVersion(t *testing.T) {
	for _, f := range []string{"--version", "-v"} {
		out := run(t, f)
		if !strings.HasPrefix(out, "bootfs-region version ") || len(strings.TrimSpace(out)) <= len("bootfs-region version ") {
			t.Errorf("bootfs-region %s: %q", f, out)
		}
	}
}

// TestGeneratedDocs: the man page and the completion script cover every
// command and flag of the definitions.
func TestGeneratedDocs(t *testing.T) {
	man := run(t, "generate-docs", "man")
	bash := run(t, "generate-docs", "bash")
	if !strings.HasPrefix(man, `.\"`) || !strings.Contains(man, ".TH BOOTFS\\-REGION 8") {
		t.Errorf("man page header:\n%.300s", man)
	}
	if !strings.Contains(bash, "complete -o default -F _bootfs_region bootfs-region") {
		t.Errorf("completion script has no complete line:\n%s", bash)
	}
	clidoc.Walk(newApp().Commands, nil, func(p []string, c *cli.Command) {
		if !strings.Contains(man, ".SS "+strings.ReplaceAll(strings.Join(p, " "), "-", `\-`)+"\n") {
			t.Errorf("man page lacks command %q", strings.Join(p, " "))
		}
		for _, f := range c.Flags {
			n := f.Names()[0]
			if !strings.Contains(man, `\fB\-\-`+strings.ReplaceAll(n, "-", `\-`)+`\fR`) {
				t.Errorf("man page lacks %s --%s", strings.Join(p, " "), n)
			}
			if !strings.Contains(bash, "--"+n) {
				t.Errorf("completion lacks %s --%s", strings.Join(p, " "), n)
			}
		}
	})
}
