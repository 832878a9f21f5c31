package migrate

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/tmpfs"
)

func TestNoSpaceWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, false, 0) // about 4.2 MB of valid content
	dir := filepath.Join(tmpfs.Mount(t, "2m"), "store")
	r := newRegion(t, "", "region1", dir)
	before := snapshotLegacy(t, f)

	rep, err := Run(ctx, r.options(f.url))
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Run = %v, want ErrNoSpace", err)
	}
	p := rep.Plan
	for _, s := range []string{dir, "region1", strconv.FormatInt(p.BytesNeeded, 10) + " bytes) needed",
		strconv.FormatUint(p.FreeBytes, 10) + " bytes) available"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if p.BytesNeeded < 4<<20 || p.FreeBytes > 2<<20 {
		t.Errorf("plan says %d needed, %d free", p.BytesNeeded, p.FreeBytes)
	}
	// Nothing written: store, region records, legacy database.
	if final, partial := blobNames(t, dir); len(final)+len(partial) != 0 {
		t.Errorf("store holds %v %v", final, partial)
	}
	if n := r.int(t, `SELECT count(*) FROM boot_resource`); n != 0 {
		t.Errorf("%d resources recorded", n)
	}
	if after := snapshotLegacy(t, f); after != before {
		t.Errorf("legacy database changed:\n%s\n%s", before, after)
	}
	banners, err := r.db.Banners(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(banners) != 1 || banners[0].Kind != BannerKind || !strings.Contains(banners[0].Message, dir) ||
		!strings.Contains(banners[0].Message, strconv.FormatInt(p.BytesNeeded, 10)) {
		t.Fatalf("banners %+v", banners)
	}

	// With room (another store), a restart migrates and clears the banner.
	big := newRegion(t, r.url, "region1", "")
	if _, err := Run(ctx, big.options(f.url)); err != nil {
		t.Fatalf("Run with room: %v", err)
	}
	verifyMigrated(t, f, big)
	if n := r.int(t, `SELECT count(*) FROM banner`); n != 0 {
		t.Errorf("banner not cleared after a successful migration")
	}
}
