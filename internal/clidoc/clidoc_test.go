package clidoc

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/testskip"
)

func TestFlagString(t *testing.T) {
	for _, tc := range []struct {
		f    cli.Flag
		want string
	}{
		{&cli.StringFlag{Name: "legacy-database", Usage: "see `bootfs-region migrate`"},
			"--legacy-database URL\tsee `bootfs-region migrate`"},
		{&cli.StringFlag{Name: "secret-file", Value: "/var/lib/maas/secret", EnvVars: []string{"S"}, Usage: "the secret"},
			"--secret-file FILE\tthe secret (default: /var/lib/maas/secret) [$S]"},
		{&cli.DurationFlag{Name: "wait", Value: time.Minute, Usage: "how long"}, "--wait DURATION\thow long (default: 1m0s)"},
		{&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "as JSON"}, "--json, -j\tas JSON"},
		{&cli.IntFlag{Name: "jobs", Usage: "parallel jobs"}, "--jobs N\tparallel jobs"},
		{&cli.StringFlag{Name: "log-level", Value: "info", Usage: "level"}, "--log-level LEVEL\tlevel (default: info)"},
	} {
		if got := FlagString(tc.f); got != tc.want {
			t.Errorf("FlagString(--%s) = %q, want %q", tc.f.Names()[0], got, tc.want)
		}
	}
}

func testApp() *cli.App {
	app := &cli.App{
		Name: "demo-app", Usage: "a demo", Description: "First line.\n.starts with a dot\n\n   indented example\n   second line\n\nAfter.",
		Commands: []*cli.Command{{
			Name: "sub", Usage: "a sub-command", Subcommands: []*cli.Command{{
				Name: "leaf", Aliases: []string{"l"}, Usage: "a leaf", ArgsUsage: "ARG",
				Flags: []cli.Flag{&cli.StringFlag{Name: "out-dir", Usage: "where `it` goes"}},
			}},
		}},
	}
	Setup(app, ManPage{Section: "8", SeeAlso: []string{"mount(8)"}}, nil)
	return app
}

func TestMan(t *testing.T) {
	man := Man(testApp(), ManPage{Section: "8", SeeAlso: []string{"mount(8)"}})
	for _, want := range []string{
		".TH DEMO\\-APP 8", ".SH NAME\ndemo\\-app \\- a demo\n", "\\&.starts with a dot\n",
		".nf\nindented example\nsecond line\n.fi\n", ".SS sub leaf\n", "\\fB\\-\\-out\\-dir\\fR \\fIDIR\\fR\nWhere `it` goes.\n",
		".SH SEE ALSO\n\\fBmount\\fR(8)\n",
	} {
		if !strings.Contains(man, want) {
			t.Errorf("man page lacks %q:\n%s", want, man)
		}
	}
	if strings.Contains(man, "generate") {
		t.Error("the hidden generate-docs command is in the man page")
	}
}

func TestBash(t *testing.T) {
	script := Bash(testApp(), map[string][]string{"": {"-o"}})
	bash, err := exec.LookPath("bash")
	if err != nil {
		testskip.Skip(t, "no bash to run the completion script in")
	}
	complete := func(words ...string) string {
		t.Helper()
		cmd := exec.Command(bash, "-c", script+`
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _demo_app; echo "${COMPREPLY[*]}"`, "x")
		cmd.Args = append(cmd.Args, words...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"demo-app", "s"}, "sub"},
		{[]string{"demo-app", "-"}, "--help -h --version -v -o"},
		{[]string{"demo-app", "sub", ""}, "leaf l help"},
		{[]string{"demo-app", "sub", "l", "--o"}, "--out-dir"},
		{[]string{"demo-app", "sub", "leaf", "--out-dir", ""}, ""},
	} {
		if got := complete(tc.words...); got != tc.want {
			t.Errorf("completing %q: %q, want %q", tc.words, got, tc.want)
		}
	}
}
