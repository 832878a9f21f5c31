package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bootfs/bootfs/region/store"
)

// Run migrates the legacy content of o.From into o.Store and the region
// database, as the package documentation describes. It is safe to call
// when there is nothing to do (no MAAS tables, or no content left): it
// then returns at once with an empty Report. With o.DryRun it only fills
// Report.Plan. When the store lacks space it returns ErrNoSpace having
// written nothing but the banner. A Report is returned with every error
// that happened after the inventory was read, saying what was done.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.applyDefaults(); err != nil {
		return nil, err
	}
	conn, err := connect(ctx, o.From)
	if err != nil {
		return nil, err
	}
	// Closing the connection also releases the session's migration lock.
	defer conn.Close(context.WithoutCancel(ctx))
	s, err := detectShape(ctx, conn)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	if !s.present {
		o.Log.Debug("no MAAS boot resource tables in the legacy database: nothing to migrate")
		return rep, nil
	}
	if !o.DryRun {
		err := lock(ctx, conn, func() {
			o.Log.Info("another region is migrating the legacy database; waiting for it to finish")
		})
		if err != nil {
			return nil, err
		}
	}
	inv, err := readInventory(ctx, conn, s)
	if err != nil {
		return nil, err
	}
	if inv.empty() {
		o.Log.Info("no boot file content left in the legacy database: nothing to migrate")
		if !o.DryRun {
			if err := o.DB.ClearBanner(ctx, o.RegionID, BannerKind); err != nil {
				return rep, fmt.Errorf("clear the migration banner: %w", err)
			}
		}
		return rep, nil
	}
	if rep.Plan, err = makePlan(inv, o.Store); err != nil {
		return nil, err
	}
	if o.DryRun {
		return rep, nil
	}
	m := &migration{o: o, conn: conn, inv: inv, rep: rep, log: o.Log.With("dir", o.Store.Dir())}
	return rep, m.run(ctx)
}

// migration is one non-dry run, holding the lock.
type migration struct {
	o    Options
	conn *pgx.Conn
	inv  *inventory
	rep  *Report
	log  *slog.Logger
	pr   progress
}

func (m *migration) run(ctx context.Context) error {
	plan := m.rep.Plan
	if !plan.Fits() {
		return m.noSpace(ctx, plan.BytesNeeded, plan.FreeBytes, nil)
	}
	start := time.Now()
	if err := recordSets(ctx, m.o.DB, m.inv); err != nil {
		return err
	}
	m.rep.Sets, m.rep.Files = plan.Sets, plan.FileRecords
	for _, pr := range plan.Unrecordable {
		m.problem(pr)
	}
	var todo []*content
	for _, c := range m.inv.contents {
		if f := c.planFile(); f.Incomplete() {
			m.problem(Problem{File: f, Kind: "incomplete",
				Reason: fmt.Sprintf("MAAS holds %d of %d bytes; left to be fetched from upstream", f.Have, f.Size)})
			continue
		}
		todo = append(todo, c)
		m.pr.p.FilesTotal++
		m.pr.p.BytesTotal += c.size
	}
	m.pr.fn = m.o.Progress
	m.pr.emit()
	for i, c := range todo {
		if err := m.one(ctx, c, todo[i:]); err != nil {
			return err
		}
	}
	if err := m.o.DB.ClearBanner(ctx, m.o.RegionID, BannerKind); err != nil {
		return fmt.Errorf("clear the migration banner: %w", err)
	}
	if err := m.finish(ctx); err != nil {
		return err
	}
	m.log.Info("migration finished", "migrated", m.rep.Migrated, "skipped", m.rep.Skipped,
		"incomplete", m.rep.Incomplete, "corrupt", m.rep.Corrupt, "bytes", m.rep.Bytes,
		"largefiles_deleted", m.rep.Removed, "large_objects_unlinked", m.rep.Unlinked,
		"largefiles_kept", m.rep.Kept, "declined", m.rep.Declined,
		"duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// finish takes the irreversible step once every content is settled: it
// deletes the largefiles verified on disk (and the others with
// DiscardUnverified) if Confirm says yes, and counts what it kept.
func (m *migration) finish(ctx context.Context) error {
	verified, unverified, rm := m.inv.removal(m.o.DiscardUnverified)
	rm.Database = describe(m.o.From)
	del := verified
	if m.o.DiscardUnverified {
		del = append(del, unverified...)
	}
	if len(del) > 0 {
		// Until the step runs, every largefile stays.
		m.rep.Kept, m.rep.KeptBytes = rm.Verified+rm.Unverified, rm.VerifiedBytes+rm.UnverifiedBytes
		ok := false
		if m.o.Confirm != nil {
			var err error
			if ok, err = m.o.Confirm(ctx, rm); err != nil {
				m.rep.Declined = true
				return fmt.Errorf("confirm the deletion of the migrated large objects: %w", err)
			}
		}
		if !ok {
			m.rep.Declined = true
			return nil
		}
		rows, objects, err := finalize(ctx, m.conn, m.inv, del)
		if err != nil {
			return err
		}
		m.rep.Removed, m.rep.Unlinked = rows, objects
	}
	m.rep.Kept, m.rep.KeptBytes = rm.Unverified, rm.UnverifiedBytes
	if m.o.DiscardUnverified {
		m.rep.Kept, m.rep.KeptBytes = 0, 0
	}
	if m.rep.Kept > 0 {
		m.log.Warn("largefiles not verified on disk are kept in the legacy database; "+
			"they are dropped only when asked (bootfs-region migrate --discard-unverified --yes)",
			"kept", m.rep.Kept, "bytes", m.rep.KeptBytes)
	}
	return nil
}

// one settles one content: skipped if on disk, else exported. rest is c
// and the contents after it (for the space message of a full disk).
func (m *migration) one(ctx context.Context, c *content, rest []*content) error {
	for attempt := 0; ; attempt++ {
		have, err := onDisk(m.o.Store, c.sha, c.size)
		if err != nil {
			return err
		}
		if have {
			err := markHeld(ctx, m.o.DB, m.o.Store, m.o.RegionID, c, nil)
			if errors.Is(err, errRotted) && attempt == 0 {
				m.log.Warn("stored file rotted; exporting it again", "sha256", c.sha, "err", err)
				continue
			}
			if err != nil {
				return err
			}
			c.verified = true
			m.rep.Skipped++
			m.pr.bytes(c.size)
			m.pr.fileDone()
			m.log.Debug("already on disk", "sha256", c.sha, "name", c.names[0])
			return nil
		}
		return m.export(ctx, c, rest)
	}
}

func (m *migration) export(ctx context.Context, c *content, rest []*content) error {
	t0 := time.Now()
	ex, err := export(ctx, m.conn, m.o.Store, c, m.o.ChunkSize, m.pr.bytes)
	m.rep.ExportTime += time.Since(t0)
	m.rep.Bytes += ex.written
	switch {
	case errors.Is(err, store.ErrCorrupt), errors.Is(err, errCorruptSource):
		m.problem(Problem{File: c.planFile(), Kind: "corrupt", Reason: err.Error()})
		m.pr.bytes(c.size - ex.resumed - ex.written)
		m.pr.fileDone()
		return nil
	case errors.Is(err, store.ErrNoSpace):
		var need int64
		for _, r := range rest {
			need += r.size
		}
		free, _ := m.o.Store.Free()
		return m.noSpace(ctx, need, free, err)
	case err != nil:
		return fmt.Errorf("export %s (%s, large object %d): %w", c.names[0], c.sha.Short(12), c.src.oid, err)
	}
	if err := markHeld(ctx, m.o.DB, m.o.Store, m.o.RegionID, c, ex.blocks); err != nil {
		return err
	}
	c.verified = true
	m.rep.Migrated++
	m.pr.fileDone()
	m.log.Info("migrated", "sha256", c.sha, "name", c.names[0], "size", c.size,
		"resumed_at", ex.resumed, "duration", time.Since(t0).Round(time.Millisecond))
	return nil
}

func (m *migration) problem(p Problem) {
	switch p.Kind {
	case "incomplete":
		m.rep.Incomplete++
	default:
		m.rep.Corrupt++
	}
	m.rep.Problems = append(m.rep.Problems, p)
	m.log.Warn("not migrated", "kind", p.Kind, "sha256", p.File.SHA256, "names", p.File.Names, "reason", p.Reason)
}

// noSpace raises the banner and returns ErrNoSpace with the same message.
func (m *migration) noSpace(ctx context.Context, need int64, free uint64, cause error) error {
	msg := fmt.Sprintf("not enough disk space to migrate boot images out of the MAAS database into %s on region %s: "+
		"%s (%d bytes) needed, %s (%d bytes) available; free some space and restart the migration",
		m.o.Store.Dir(), m.o.RegionName, HumanBytes(need), need, HumanBytes(free), free)
	err := fmt.Errorf("%w: %s", ErrNoSpace, msg)
	if cause != nil {
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	if berr := m.o.DB.SetBanner(context.WithoutCancel(ctx), m.o.RegionID, BannerKind, msg); berr != nil {
		err = errors.Join(err, fmt.Errorf("raise the banner: %w", berr))
	}
	return err
}
