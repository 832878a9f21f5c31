package main

import (
	"context"

	"github.com/bootfs/bootfs/migrate"
	"github.com/bootfs/bootfs/region"
)

// legacyMigration is how `serve --legacy-database` moves boot images out
// of a MAAS database: package migrate, composed with the region here so
// that region does not import migrate.
//
// A daemon has nobody to ask, so the irreversible step (deleting the
// copied large objects from the MAAS database) is taken only when the
// operator said yes in advance (--legacy-database-yes). Without it the
// region copies and serves the images and keeps every object; each start
// then finds them on disk at once, and `bootfs-region migrate --yes`
// deletes them. Objects not verified on disk are never deleted by serve.
type legacyMigration struct {
	from string
	yes  bool
}

var _ region.LegacyMigrator = (*legacyMigration)(nil)

// newLegacyMigration returns nil (no migration) when from is "".
func newLegacyMigration(from string, yes bool) region.LegacyMigrator {
	if from == "" {
		return nil
	}
	return &legacyMigration{from: from, yes: yes}
}

func (l *legacyMigration) Pending(ctx context.Context) (bool, error) {
	return migrate.Pending(ctx, l.from)
}

func (l *legacyMigration) Migrate(ctx context.Context, t region.LegacyTarget) error {
	o := migrate.Options{
		From: l.from, DB: t.DB, Store: t.Store, RegionID: t.RegionID, RegionName: t.RegionName, Log: t.Log,
		Progress: func(p migrate.Progress) { t.Progress(p.String()) },
	}
	if l.yes {
		o.Confirm = func(context.Context, migrate.Removal) (bool, error) { return true, nil }
	}
	rep, err := migrate.Run(ctx, o)
	if err != nil {
		return err
	}
	if rep.Declined {
		t.Log.Warn("the boot images are copied and served; their large objects stay in the MAAS database until "+
			"`bootfs-region migrate --from-database URL --yes` deletes them (or serve runs with --legacy-database-yes)",
			"largefiles", rep.Kept, "bytes", rep.KeptBytes)
	}
	return nil
}
