package region

import (
	"context"
	"log/slog"

	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// LegacyMigrator moves boot images out of a legacy MAAS database into a
// region, once (Config.Legacy). The region does not know how: package
// migrate does it, and cmd/bootfs-region composes the two, so the
// dependency points one way (cmd -> region, cmd -> migrate -> region/db,
// region/store; region never imports migrate).
type LegacyMigrator interface {
	// Pending reports whether the legacy database still holds boot file
	// content. A database without the MAAS tables holds none.
	Pending(ctx context.Context) (bool, error)
	// Migrate copies that content into t.Store and t.DB, recording it as
	// held by t.RegionID, and calls t.Progress with a one-line status
	// ("migrating: ...") as it advances. Whether it then deletes what it
	// copied from the legacy database is the implementation's to decide
	// and to document; it must not ask anyone (a daemon runs it). It
	// logs its own summary; an error is returned, not logged.
	Migrate(ctx context.Context, t LegacyTarget) error
}

// LegacyTarget is the region a LegacyMigrator moves content into.
type LegacyTarget struct {
	DB         *db.DB
	Store      *store.Disk
	RegionID   int64
	RegionName string
	Log        *slog.Logger
	// Progress is safe to call from the migrating goroutine; never nil.
	Progress func(status string)
}
