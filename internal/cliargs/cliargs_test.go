package cliargs

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestInterspersed(t *testing.T) {
	cmds := []*cli.Command{
		{Name: "status", Flags: []cli.Flag{&cli.BoolFlag{Name: "json"}}},
		{Name: "warm", Flags: []cli.Flag{&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}}}},
		{Name: "mount", SkipFlagParsing: true},
		{Name: "sources", Subcommands: []*cli.Command{
			{Name: "add", Flags: []cli.Flag{&cli.StringFlag{Name: "keyring"}, &cli.BoolFlag{Name: "unsigned"}}},
		}},
	}
	for _, tc := range []struct{ in, want []string }{
		{[]string{"x", "status", "/mnt", "--json"}, []string{"x", "status", "--json", "/mnt"}},
		{[]string{"x", "status", "--json", "/mnt"}, []string{"x", "status", "--json", "/mnt"}},
		{[]string{"x", "warm", "/mnt", "a", "--jobs", "3", "b"}, []string{"x", "warm", "--jobs", "3", "/mnt", "a", "b"}},
		{[]string{"x", "warm", "/mnt", "-j=3", "a"}, []string{"x", "warm", "-j=3", "/mnt", "a"}},
		{[]string{"x", "warm", "/mnt", "--", "--jobs"}, []string{"x", "warm", "/mnt", "--", "--jobs"}},
		{[]string{"x", "mount", "http://r", "/mnt", "-o", "ro"}, []string{"x", "mount", "http://r", "/mnt", "-o", "ro"}},
		{[]string{"x", "sources", "add", "URL", "--keyring", "k", "--unsigned"}, []string{"x", "sources", "add", "--keyring", "k", "--unsigned", "URL"}},
		{[]string{"x", "unknown", "a", "--b"}, []string{"x", "unknown", "a", "--b"}},
	} {
		if got := Interspersed(cmds, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Interspersed(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
