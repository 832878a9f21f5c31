package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/cliargs"
)

// runApp runs the command-line app as main does for its words.
func runApp(t *testing.T, args ...string) string {
	t.Helper()
	if !slices.Contains(appCommands, args[0]) {
		t.Fatalf("%q would be taken as the mount form", args[0])
	}
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	if err := app.Run(cliargs.Interspersed(app.Commands, append([]string{"bootfs"}, args...))); err != nil {
		t.Fatalf("bootfs %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestHelpEverywhere: bootfs --help, help and every command's help print
// the layout bootfs-region's do, without errors.
func TestHelpEverywhere(t *testing.T) {
	forms := [][]string{{"--help"}, {"-h"}, {"help"}}
	for _, c := range newApp().Commands {
		if c.Hidden || c.Name == "help" {
			continue
		}
		forms = append(forms, []string{c.Name, "--help"}, []string{"help", c.Name})
	}
	for _, f := range forms {
		out := runApp(t, f...)
		if !strings.HasPrefix(out, "NAME:\n   bootfs") || !strings.Contains(out, "\nUSAGE:\n") {
			t.Errorf("bootfs %s: not the common help layout:\n%s", strings.Join(f, " "), out)
		}
		for _, bad := range []string{"Incorrect Usage", "No help topic", "Shows a list of commands"} {
			if strings.Contains(out, bad) {
				t.Errorf("bootfs %s: %q in\n%s", strings.Join(f, " "), bad, out)
			}
		}
	}
	if out := runApp(t, "--version"); !strings.HasPrefix(out, "bootfs version ") || strings.Contains(out, "version dev\n") {
		t.Errorf("bootfs --version: %q", out)
	}
}

// TestGeneratedDocs: the man page documents the mount form and every
// command; the completion script completes them.
func TestGeneratedDocs(t *testing.T) {
	man := runApp(t, "generate-docs", "man")
	bash := runApp(t, "generate-docs", "bash")
	for _, want := range []string{".TH BOOTFS 8", ".SS status", ".SS warm", "cache_size=SIZE", `\fB\-\-json\fR`, "fuse.bootfs"} {
		if !strings.Contains(man, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	for _, want := range []string{"complete -o default -F _bootfs bootfs", "'/status') words='--json", "status warm"} {
		if !strings.Contains(bash, want) {
			t.Errorf("completion lacks %q:\n%s", want, bash)
		}
	}
}

// TestFlagsAfterArguments: `bootfs status MOUNTPOINT --json` (the form
// --help shows) reads the status of MOUNTPOINT rather than failing with
// the usage. (internal/cliargs's TestInterspersed covers warm's --jobs:
// warm fails on a directory that is not a mount before it looks at its
// paths, so it cannot show the order here.)
func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir() // not a bootfs mount: the error must be about that
	args := []string{"bootfs", "status", dir, "--json"}
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run(cliargs.Interspersed(app.Commands, args))
	if err == nil || strings.Contains(err.Error(), "usage:") || !strings.Contains(err.Error(), dir) {
		t.Errorf("%q: %v; want an error about %s not being a bootfs mount", args, err, dir)
	}
}
