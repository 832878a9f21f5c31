package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/cliargs"
	"github.com/bootfs/bootfs/internal/wire"
)

func selJSON(t *testing.T, sels []wire.Selection) string {
	t.Helper()
	var parts []string
	for _, s := range sels {
		b, err := json.Marshal([]any{s.OS, s.Release, s.Arches, s.Subarches, s.Labels})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, string(b))
	}
	return strings.Join(parts, " ")
}

func TestParseSelects(t *testing.T) {
	for _, c := range []struct {
		specs []string
		want  string
	}{
		{[]string{"ubuntu"}, `["ubuntu","*",["*"],["*"],["*"]]`},
		{[]string{"ubuntu/jammy,noble/amd64,arm64", "centos/centos70"},
			`["ubuntu","jammy",["amd64","arm64"],["*"],["*"]] ["ubuntu","noble",["amd64","arm64"],["*"],["*"]] ` +
				`["centos","centos70",["*"],["*"],["*"]]`},
		{[]string{"ubuntu/noble/amd64/ga-24.04,hwe-24.04/candidate"},
			`["ubuntu","noble",["amd64"],["ga-24.04","hwe-24.04"],["candidate"]]`},
		{[]string{"*/*"}, `["*","*",["*"],["*"],["*"]]`},
		{[]string{"ubuntu/jammy/amd64,*"}, `["ubuntu","jammy",["*"],["*"],["*"]]`},
		// The same os and release twice: merged when one list differs.
		{[]string{"ubuntu/jammy/amd64", "ubuntu/jammy/arm64", "ubuntu/jammy/amd64"},
			`["ubuntu","jammy",["amd64","arm64"],["*"],["*"]]`},
		{[]string{"ubuntu/jammy/amd64/ga-22.04", "ubuntu/jammy/amd64/hwe-22.04"},
			`["ubuntu","jammy",["amd64"],["ga-22.04","hwe-22.04"],["*"]]`},
	} {
		got, err := parseSelects(c.specs)
		if err != nil {
			t.Errorf("%q: %v", c.specs, err)
			continue
		}
		if s := selJSON(t, got); s != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.specs, s, c.want)
		}
	}
	for _, c := range []struct {
		specs []string
		want  string
	}{
		{[]string{"a/b/c/d/e/f"}, `--select "a/b/c/d/e/f": too many parts: the form is OS[/RELEASE[/ARCH[/SUBARCH[/LABEL]]]]`},
		{[]string{"ubuntu//amd64"}, `--select "ubuntu//amd64": release: empty (write * for all)`},
		{[]string{"ubuntu/jammy,"}, `--select "ubuntu/jammy,": release: "jammy," has an empty item`},
		{[]string{"ubuntu/jammy/amd64", "ubuntu/jammy/arm64/hwe-22.04"}, "--select: two selections of ubuntu/jammy differ in more than one"},
	} {
		_, err := parseSelects(c.specs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.specs, err, c.want)
		}
	}
}

// runErr runs the app and returns its error and output.
func runErr(args ...string) (string, error) {
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run(cliargs.Interspersed(app.Commands, append([]string{"bootfs-region"}, args...)))
	return out.String(), err
}

// --select and the shorthand flags do not mix; update needs something to
// change. Both are refused before any region is contacted.
func TestSelectFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sources", "add", "--select", "ubuntu/jammy", "--release", "noble", "http://m/"},
			"--select cannot be mixed with --release: write everything as --select OS[/RELEASE[/ARCH[/SUBARCH[/LABEL]]]]"},
		{[]string{"sources", "update", "http://m/", "--select", "ubuntu/jammy", "--os", "centos", "--arch", "amd64"},
			"--select cannot be mixed with --os, --arch"},
		{[]string{"sources", "update", "http://m/"}, "nothing to change: give --select"},
		{[]string{"sources", "add", "--select", "ubuntu/a/b/c/d/e", "http://m/"}, "too many parts"},
	} {
		out, err := runErr(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v (%s), want an error with %q", c.args, err, out, c.want)
		}
	}
}

// The flags as the command line gives them: commas stay inside a --select
// value, which repeats; the shorthand still works alone.
func TestSelectFlagParsing(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--select", "ubuntu/jammy,noble/amd64,arm64", "--select", "centos/centos70"},
			`["ubuntu","jammy",["amd64","arm64"],["*"],["*"]] ["ubuntu","noble",["amd64","arm64"],["*"],["*"]] ` +
				`["centos","centos70",["*"],["*"],["*"]]`},
		{[]string{"--select=ubuntu/*/amd64"}, `["ubuntu","*",["amd64"],["*"],["*"]]`},
		{[]string{"--release", "jammy", "--release", "noble", "--arch", "amd64"},
			`["ubuntu","jammy",["amd64"],null,null] ["ubuntu","noble",["amd64"],null,null]`},
		{nil, `["ubuntu","*",null,null,null]`},
	} {
		var got []wire.Selection
		var changed bool
		app := &cli.App{Name: "t", Flags: selectionFlags(), Action: func(c *cli.Context) error {
			var err error
			got, changed, err = selectionsFrom(c)
			return err
		}}
		if err := app.Run(append([]string{"t"}, c.args...)); err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if s := selJSON(t, got); s != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.args, s, c.want)
		}
		if changed != (len(c.args) > 0) {
			t.Errorf("%q: changed %v", c.args, changed)
		}
	}
}
