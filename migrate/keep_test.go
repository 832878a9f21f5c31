package migrate

import (
	"context"
	"errors"
	"maps"
	"testing"
)

// smallLegacy is a legacy database holding one good content, one corrupt
// (bytes that do not match the sha256) and one incomplete (an interrupted
// MAAS download), each used by one resource file.
type smallLegacy struct {
	*legacy
	good, corrupt, incomplete string
}

func newSmallLegacy(t testing.TB) *smallLegacy {
	t.Helper()
	l := &smallLegacy{legacy: newLegacy(t, false)}
	goodData := randomBytes(21, 300_000)
	l.good = hexSHA(goodData)
	good := l.content(goodData)
	l.corrupt = hexSHA(randomBytes(22, 200_000))
	corrupt := l.largefile(l.corrupt, 200_000, 200_000, randomBytes(23, 200_000))
	full := randomBytes(24, 400_000)
	l.incomplete = hexSHA(full)
	incomplete := l.largefile(l.incomplete, 400_000, 100_000, full[:100_000])
	s := l.set(l.resource("custom/mine", "amd64/generic", "", ""), "20250101")
	l.file(s, good, "root-tgz", "root-tgz")
	l.file(s, corrupt, "boot-kernel", "boot-kernel")
	l.file(s, incomplete, "boot-initrd", "boot-initrd")
	return l
}

// objects maps the sha256 of every largefile left to an md5 of its large
// object's bytes ("" when the object is gone) and whether a resource file
// still points at it.
func (l *smallLegacy) objects() map[string]string {
	l.t.Helper()
	out := map[string]string{}
	for _, row := range l.strings(`
		SELECT l.sha256 || ' ' || coalesce(md5(lo_get(m.oid)), '') || ' ' ||
		       EXISTS (SELECT 1 FROM maasserver_bootresourcefile f WHERE f.largefile_id = l.id)
		FROM maasserver_largefile l LEFT JOIN pg_largeobject_metadata m ON m.oid = l.content`) {
		out[row[:64]] = row[65:]
	}
	return out
}

// The irreversible step deletes only what is verified on disk, only when
// Confirm says yes; corrupt and incomplete objects are kept, byte for
// byte, and reported until DiscardUnverified drops them.
func TestUnverifiedObjectsAreKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newSmallLegacy(t)
	r := newRegion(t, "", "region1", "")
	before := l.objects()
	if len(before) != 3 {
		t.Fatalf("fixture has %d largefiles: %v", len(before), before)
	}

	// No Confirm, then a Confirm that says no, then one that fails:
	// the files are copied, nothing is deleted.
	var asked []Removal
	for i, confirm := range []func(context.Context, Removal) (bool, error){
		nil,
		func(_ context.Context, rm Removal) (bool, error) { asked = append(asked, rm); return false, nil },
		func(_ context.Context, rm Removal) (bool, error) { return false, errors.New("no terminal") },
	} {
		o := r.options(l.url)
		o.Confirm = confirm
		rep, err := Run(ctx, o)
		if (err != nil) != (i == 2) || !rep.Declined || rep.Removed != 0 || rep.Kept != 3 {
			t.Fatalf("run %d: %+v, %v; want declined, 3 kept", i, rep, err)
		}
		if got := l.objects(); !maps.Equal(got, before) {
			t.Fatalf("run %d changed the legacy database:\n%v\nwas\n%v", i, got, before)
		}
	}
	if len(asked) != 1 || asked[0].Verified != 1 || asked[0].VerifiedBytes != 300_000 ||
		asked[0].Unverified != 2 || asked[0].UnverifiedBytes != 600_000 || asked[0].Discard {
		t.Errorf("Confirm was asked %+v", asked)
	}
	if held, err := r.db.Held(ctx, r.id); err != nil || len(held) != 1 {
		t.Errorf("region holds %v, %v; want the good content", held, err)
	}

	// Yes: the good one goes, the others stay as they were, reported.
	rep, err := Run(ctx, r.options(l.url))
	if err != nil || rep.Declined || rep.Removed != 1 || rep.Unlinked != 1 || rep.Kept != 2 || rep.KeptBytes != 600_000 {
		t.Fatalf("run with yes: %+v, %v", rep, err)
	}
	kinds := map[string]string{}
	for _, p := range rep.Problems {
		kinds[p.File.SHA256.String()] = p.Kind
	}
	if kinds[l.corrupt] != "corrupt" || kinds[l.incomplete] != "incomplete" || len(kinds) != 2 {
		t.Errorf("problems %+v", rep.Problems)
	}
	want := map[string]string{l.corrupt: before[l.corrupt], l.incomplete: before[l.incomplete]}
	if got := l.objects(); !maps.Equal(got, want) {
		t.Fatalf("after yes the legacy database holds\n%v\nwant\n%v", got, want)
	}
	if p, err := Pending(ctx, l.url); err != nil || !p {
		t.Errorf("Pending = %v, %v; want true while unverified objects are kept", p, err)
	}

	// Discard: asked with Discard set, then everything goes.
	o := r.options(l.url)
	o.DiscardUnverified = true
	var rm Removal
	o.Confirm = func(_ context.Context, got Removal) (bool, error) { rm = got; return true, nil }
	rep, err = Run(ctx, o)
	if err != nil || rep.Removed != 2 || rep.Unlinked != 2 || rep.Kept != 0 {
		t.Fatalf("run with discard: %+v, %v", rep, err)
	}
	if !rm.Discard || rm.Verified != 0 || rm.Unverified != 2 {
		t.Errorf("Confirm was asked %+v", rm)
	}
	if got := l.objects(); len(got) != 0 {
		t.Errorf("after discard the legacy database holds %v", got)
	}
	if lfs, objs, attached := l.counts(); lfs+objs+attached != 0 {
		t.Errorf("after discard: %d largefiles, %d objects, %d attached", lfs, objs, attached)
	}
	if p, err := Pending(ctx, l.url); err != nil || p {
		t.Errorf("Pending = %v, %v; want false", p, err)
	}
}
