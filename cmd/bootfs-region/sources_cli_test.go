package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/cliargs"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
)

// The sources and images commands against a real region and dev mirror:
// what they print, and that errors exit non-zero with the fix.
func TestSourcesAndImagesCommands(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Releases: []string{"jammy", "noble"}})
	r := regiontest.StartRegion(t, regiontest.Options{})
	at := []string{"--region", r.URL(), "--secret-file", r.SecretFile}
	cmd := func(args ...string) (string, string, error) {
		app := newApp()
		var out, errOut bytes.Buffer
		app.Writer, app.ErrWriter = &out, &errOut
		err := app.Run(cliargs.Interspersed(app.Commands, append(append([]string{"bootfs-region"}, args...), at...)))
		return out.String(), errOut.String(), err
	}
	must := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, err := cmd(args...)
		if err != nil {
			t.Fatalf("%q: %v\n%s%s", args, err, out, errOut)
		}
		return out, errOut
	}
	bad := filepath.Join(t.TempDir(), "bad.gpg")
	if err := os.WriteFile(bad, []byte("not a keyring"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := cmd("sources", "add", m.URL, "--keyring", bad)
	if err == nil || !strings.Contains(err.Error(), "422 Unprocessable Entity: bad keyring: read keyring:") {
		t.Errorf("add with a bad keyring: %v", err)
	}

	out, warn := must("sources", "add", m.URL, "--keyring", m.KeyringPath, "--select", "ubuntu/jammy,focal/amd64", "--priority", "4")
	if want := "source " + m.URL + " added (5 products selected, priority 4); run `bootfs-region import --wait` to import now\n"; out != want {
		t.Errorf("add printed %q, want %q", out, want)
	}
	if want := "warning: selection ubuntu/focal/amd64 matches nothing the mirror offers (see `bootfs-region sources available " +
		m.URL + "`)\n"; warn != want {
		t.Errorf("add warned %q, want %q", warn, want)
	}
	_, _, err = cmd("sources", "add", m.URL, "--keyring", m.KeyringPath)
	if err == nil || !strings.Contains(err.Error(), "409 Conflict: source "+m.URL+" exists already: change its selections, "+
		"keyring or priority with `bootfs-region sources update URL`") {
		t.Errorf("re-add: %v", err)
	}
	out, _ = must("sources", "list")
	if !strings.Contains(out, m.URL+"  yes     4         ubuntu  jammy    amd64") {
		t.Errorf("sources list:\n%s", out)
	}

	out, _ = must("sources", "available", m.URL)
	if !strings.Contains(out, "OS               RELEASE        ARCH     SUBARCHES  LABELS  NEWEST VERSION  SIZE") ||
		!strings.Contains(out, "ubuntu           noble          amd64    ga-24.04   stable  20250101        ") {
		t.Errorf("sources available:\n%s", out)
	}

	if err := r.ImportNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, _ = must("images", "list", "--json")
	var imgs []wire.Image
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&imgs); err != nil {
		t.Fatalf("images list --json: %v\n%s", err, out)
	}
	if len(imgs) != 5 || imgs[4].Name != "ubuntu/jammy" || !imgs[4].Versions[0].Offered {
		t.Errorf("images list --json: %+v", imgs)
	}
	out, _ = must("images", "list")
	if !strings.Contains(out, "ubuntu/jammy") || !strings.Contains(out, " MiB ") || !strings.Contains(out, "offered") {
		t.Errorf("images list:\n%s", out)
	}

	_, _, err = cmd("images", "delete", "ubuntu/jammy")
	if err == nil || !strings.Contains(err.Error(), "409 Conflict: ubuntu/jammy is still selected by source "+m.URL+
		" (selection ubuntu/jammy/amd64)") || !strings.Contains(err.Error(), "--deselect") {
		t.Errorf("delete of a selected image: %v", err)
	}
	out, _ = must("images", "delete", "ubuntu/jammy", "--deselect")
	if want := "deselected: source " + m.URL + ": selections ubuntu/jammy/amd64 ubuntu/focal/amd64 became ubuntu/focal/amd64\n" +
		"deleted ubuntu/jammy amd64/ga-22.04 (1 versions): withdrawn from the boot tree of every region now; " +
		"its files are deleted after --cleanup-grace\n"; out != want {
		t.Errorf("delete --deselect printed %q, want %q", out, want)
	}

	out, _ = must("sources", "update", m.URL, "--select", "ubuntu/noble")
	if !strings.Contains(out, "source "+m.URL+" updated (5 products selected, priority 4); 0 resource sets") {
		t.Errorf("update printed %q", out)
	}
	out, _ = must("sources", "remove", m.URL)
	if want := "source " + m.URL + " removed; 4 resource sets no remaining selection picks left the boot tree, " +
		"their files are deleted after --cleanup-grace on every region\n"; out != want {
		t.Errorf("remove printed %q, want %q", out, want)
	}
}
