package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/units"
	"github.com/bootfs/bootfs/migrate"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/pgembed"
	"github.com/bootfs/bootfs/region/store"
)

func migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "move boot images out of a MAAS database (PostgreSQL large objects) onto this region's disk, once",
		Description: "Reads the MAAS 3.4 (or 3.5) boot resource tables, records the resources in the region\n" +
			"database and streams every large object into --storage, verifying each sha256. Then, and only\n" +
			"then, the irreversible step: the largefiles verified on disk and their large objects are deleted\n" +
			"from the MAAS database. It is asked for at a terminal; without one it needs --yes (the command\n" +
			"refuses before touching anything otherwise). Corrupt, incomplete and unused largefiles are\n" +
			"kept and reported (an uploaded image has no upstream to fetch it from again); --discard-unverified\n" +
			"drops them too. Re-running after an interruption finishes the job. --dry-run prints the space\n" +
			"estimate and the file list and changes nothing.\n\n" +
			"The region database is --database-url, else the embedded one under --state-dir: started for\n" +
			"the duration of the command, or, if `serve` is running on that state directory, reached\n" +
			"through the port it listens on. Bootloader archives are extracted by the region's next\n" +
			"import (`bootfs-region import`).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from-database", Required: true, EnvVars: []string{"BOOTFS_LEGACY_DATABASE_URL"},
				Usage: "the MAAS database, e.g. postgres://maas:PASSWORD@localhost/maasdb"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the estimate and the file list; write nothing"},
			&cli.BoolFlag{Name: "yes", Usage: "take the irreversible step without asking: delete from the MAAS database the large objects verified on disk (needed without a terminal)"},
			&cli.BoolFlag{Name: "discard-unverified", Usage: "also delete the largefiles NOT verified on disk (corrupt, incomplete, unused) instead of keeping them"},
			&cli.StringFlag{Name: "storage", Value: "/var/lib/maas/image-storage", Usage: "directory of the file store"},
			&cli.StringFlag{Name: "name", Usage: "region name the files are recorded as held by (default: host name)"},
			&cli.StringFlag{Name: "database-url", EnvVars: []string{"BOOTFS_DATABASE_URL"},
				Usage: "region PostgreSQL URL; without it the embedded PostgreSQL under --state-dir is used"},
			&cli.StringFlag{Name: "state-dir", Value: "/var/lib/bootfs-region", Usage: "embedded PostgreSQL's directory"},
			&cli.StringFlag{Name: "postgres-user", Usage: "OS user the embedded PostgreSQL runs as when started as root (default postgres)"},
			&cli.IntFlag{Name: "chunk-size", Value: migrate.DefaultChunkSize, Usage: "bytes asked of the database per large object read"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
		},
		Action: runMigrate,
	}
}

func runMigrate(c *cli.Context) error {
	dryRun, yes := c.Bool("dry-run"), c.Bool("yes")
	ask := !dryRun && !yes && isTerminal(c.App.Reader)
	if !dryRun && !yes && !ask {
		return errors.New("the migration ends by deleting the migrated large objects from the MAAS database, " +
			"which cannot be undone, and standard input is not a terminal to ask: pass --yes to confirm " +
			"(--dry-run shows the plan and changes nothing)")
	}
	con := newConsole(c.App.ErrWriter)
	logTo := io.Writer(os.Stderr)
	if con.tty && !dryRun {
		logTo = con // log lines go above the progress bar
	}
	log, err := newLoggerTo(logTo, c.String("log-level"), c.String("log-format"))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := migrate.Options{From: c.String("from-database"), DryRun: dryRun, Log: log, ChunkSize: c.Int("chunk-size"),
		DiscardUnverified: c.Bool("discard-unverified")}
	if o.DryRun {
		// Write nothing: the store directory must already exist (opening
		// it creates at most its private subdirectories), and the region
		// database is not even opened.
		if _, err := os.Stat(c.String("storage")); err != nil {
			return fmt.Errorf("--dry-run needs an existing --storage directory: %w", err)
		}
	}
	if o.Store, err = store.Open(store.Options{Dir: c.String("storage"), Log: log.With("component", "store")}); err != nil {
		return err
	}
	var bar *migrateBar
	if !o.DryRun {
		d, closeDB, err := openRegionDB(ctx, c, log)
		if err != nil {
			return err
		}
		defer closeDB()
		o.DB = d
		if o.RegionName, o.RegionID, err = regionID(ctx, d, c.String("name")); err != nil {
			return err
		}
		bar = newMigrateBar(con, log)
		o.Progress = bar.update
		o.Confirm = func(context.Context, migrate.Removal) (bool, error) { return true, nil }
		if ask {
			o.Confirm = func(ctx context.Context, rm migrate.Removal) (bool, error) {
				bar.finish()
				return confirm(ctx, c.App.Reader, con, rm)
			}
		}
	}
	rep, err := migrate.Run(ctx, o)
	if bar != nil {
		bar.finish()
	}
	if o.DryRun && rep != nil {
		if rep.Plan == nil {
			fmt.Fprintln(c.App.Writer, "nothing to migrate: the legacy database holds no boot file content")
			return err
		}
		if _, werr := rep.Plan.WriteTo(c.App.Writer); werr != nil {
			return errors.Join(err, werr)
		}
		return err
	}
	if rep != nil && (err == nil || rep.Migrated+rep.Skipped+len(rep.Problems) > 0) {
		printMigrateReport(c.App.Writer, rep)
	}
	return err
}

// openRegionDB opens and migrates the region database: --database-url, or
// the embedded server under --state-dir: the running region's if `serve`
// runs there, else one started for this command.
func openRegionDB(ctx context.Context, c *cli.Context, log *slog.Logger) (*db.DB, func(), error) {
	if u := c.String("database-url"); u != "" {
		return openMigrated(ctx, u, func() {})
	}
	dir := c.String("state-dir")
	if u, ok := runningEmbeddedURL(dir); ok {
		d, done, err := openMigrated(ctx, u, func() {})
		if err == nil {
			log.Info("using the embedded PostgreSQL of the region running on this state directory", "state_dir", dir)
			return d, done, nil
		}
		log.Debug("the embedded PostgreSQL named by postmaster.pid does not answer; starting it", "err", err)
	}
	pg, err := pgembed.Start(ctx, pgembed.Options{Dir: dir, User: c.String("postgres-user"), Log: log.With("component", "postgres")})
	if err != nil {
		return nil, nil, fmt.Errorf("start embedded PostgreSQL in %s: %w", dir, err)
	}
	return openMigrated(ctx, pg.URL(), func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pg.Stop(sctx); err != nil {
			log.Warn("stop embedded PostgreSQL", "err", err)
		}
	})
}

// openMigrated opens url and migrates the schema; stop runs after Close
// (and on failure).
func openMigrated(ctx context.Context, url string, stop func()) (*db.DB, func(), error) {
	d, err := db.Open(ctx, url)
	if err != nil {
		stop()
		return nil, nil, err
	}
	if _, _, err := d.Migrate(ctx); err != nil {
		d.Close()
		stop()
		return nil, nil, err
	}
	return d, func() { d.Close(); stop() }, nil
}

// runningEmbeddedURL is the URL of the embedded PostgreSQL that a running
// `serve` started on dir, if its postmaster.pid exists: its unix socket,
// where the server trusts local connections as its superuser (see
// region/pgembed). Whether it really runs is for the caller to find out.
func runningEmbeddedURL(dir string) (string, bool) {
	u, ok := pgembed.RunningURL(dir, "bootfs")
	if !ok {
		return "", false
	}
	return u + "&connect_timeout=5", true
}

// regionID finds the region called name (default: the host name),
// registering it (with no URL yet; `serve` sets it) if it is new. An
// existing region's URL is left alone.
func regionID(ctx context.Context, d *db.DB, name string) (string, int64, error) {
	if name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return "", 0, errors.New("the host name is unknown: pass --name")
		}
		name = h
	}
	regions, err := d.Regions(ctx)
	if err != nil {
		return "", 0, err
	}
	for _, r := range regions {
		if r.Name == name {
			return name, r.ID, nil
		}
	}
	id, err := d.RegisterRegion(ctx, name, "")
	return name, id, err
}

func printMigrateReport(w io.Writer, rep *migrate.Report) {
	if rep.Plan == nil {
		fmt.Fprintln(w, "nothing to migrate: the legacy database holds no boot file content")
		return
	}
	fmt.Fprintf(w, "recorded %d sets (%d files); migrated %d contents, %d already on disk\n",
		rep.Sets, rep.Files, rep.Migrated, rep.Skipped)
	if rep.ExportTime > 0 {
		fmt.Fprintf(w, "exported %d bytes in %.3fs (%s/s)\n", rep.Bytes, rep.ExportTime.Seconds(),
			units.Bytes(int64(float64(rep.Bytes)/rep.ExportTime.Seconds())))
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "not migrated (%s): %s: %s\n", p.Kind, strings.Join(p.File.Names, ", "), p.Reason)
	}
	if rep.Removed > 0 {
		fmt.Fprintf(w, "deleted %d largefiles and %d large objects verified on disk from the MAAS database\n", rep.Removed, rep.Unlinked)
		fmt.Fprintln(w, "PostgreSQL gives the objects' disk space back after `VACUUM FULL pg_largeobject` (as a superuser) on the MAAS database")
	}
	if rep.Migrated > 0 {
		fmt.Fprintln(w, "bootloader archives are extracted by the region's next import (bootfs-region import)")
	}
	switch {
	case rep.Declined:
		fmt.Fprintf(w, "nothing deleted from the MAAS database: %d largefiles (%s) kept; run again with --yes to delete those verified on disk\n",
			rep.Kept, units.Bytes(rep.KeptBytes))
	case rep.Kept > 0:
		orphans := ""
		if rep.Plan.Orphans > 0 {
			orphans = fmt.Sprintf(", %d of them used by no resource", rep.Plan.Orphans)
		}
		fmt.Fprintf(w, "kept %d largefiles (%s) not verified on disk in the MAAS database%s; "+
			"`bootfs-region migrate --discard-unverified --yes` drops them\n", rep.Kept, units.Bytes(rep.KeptBytes), orphans)
	}
}
