package migrate

import (
	"bytes"
	"maps"
	"os/exec"
	"strings"
	"testing"
)

// The CLI without --yes and without a terminal refuses, naming --yes,
// before touching anything; --yes deletes only what is verified on disk and
// reports what it kept; --discard-unverified --yes drops the rest.
func TestCLIConfirmation(t *testing.T) {
	t.Parallel()
	bin := buildRegion(t)
	l := newSmallLegacy(t)
	r := newRegion(t, "", "region1", "")
	before := l.objects()
	migrate := func(args ...string) (stdout, stderr string, err error) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"migrate", "--from-database", l.url, "--database-url", r.url,
			"--storage", r.store.Dir(), "--name", "region1"}, args...)...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e // standard input: /dev/null, not a terminal
		err = cmd.Run()
		return o.String(), e.String(), err
	}

	out, errOut, err := migrate()
	if err == nil || !strings.Contains(errOut, "--yes") || !strings.Contains(errOut, "not a terminal") {
		t.Fatalf("migrate without --yes and without a terminal: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if got := l.objects(); !maps.Equal(got, before) {
		t.Fatalf("the refused command changed the legacy database:\n%v\nwas\n%v", got, before)
	}
	if final, partial := blobNames(t, r.store.Dir()); len(final)+len(partial) != 0 {
		t.Errorf("the refused command wrote to the store: %v %v", final, partial)
	}
	if n := r.int(t, `SELECT count(*) FROM boot_resource_set`); n != 0 {
		t.Errorf("the refused command recorded %d sets", n)
	}

	out, errOut, err = migrate("--yes")
	if err != nil {
		t.Fatalf("migrate --yes: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	for _, s := range []string{"not migrated (corrupt): custom/mine amd64/generic 20250101 boot-kernel",
		"not migrated (incomplete): custom/mine amd64/generic 20250101 boot-initrd",
		"deleted 1 largefiles and 1 large objects verified on disk",
		"kept 2 largefiles (585.9 KiB) not verified on disk", "--discard-unverified --yes"} {
		if !strings.Contains(out, s) {
			t.Errorf("migrate --yes output lacks %q:\n%s", s, out)
		}
	}
	want := map[string]string{l.corrupt: before[l.corrupt], l.incomplete: before[l.incomplete]}
	if got := l.objects(); !maps.Equal(got, want) {
		t.Fatalf("after migrate --yes the legacy database holds\n%v\nwant\n%v", got, want)
	}
	if final, _ := blobNames(t, r.store.Dir()); len(final) != 1 || final[0] != l.good {
		t.Errorf("store holds %v, want the good content", final)
	}

	out, errOut, err = migrate("--discard-unverified", "--yes")
	if err != nil || !strings.Contains(out, "deleted 2 largefiles and 2 large objects") {
		t.Fatalf("migrate --discard-unverified --yes: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if lfs, objs, attached := l.counts(); lfs+objs+attached != 0 {
		t.Errorf("after --discard-unverified: %d largefiles, %d objects, %d attached", lfs, objs, attached)
	}
}
