package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/version"
	"github.com/bootfs/bootfs/region"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the region daemon",
		Description: "Without --database-url the region initialises (on first run), starts and supervises a\n" +
			"private PostgreSQL under --state-dir using Debian's PostgreSQL binaries, and stops it on exit.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "storage", Value: "/var/lib/maas/image-storage", Usage: "directory of the file store"},
			&cli.StringFlag{Name: "listen", Value: ":5240", Usage: "HTTP listen address"},
			&cli.StringFlag{Name: "name", Usage: "region name (default: host name)"},
			&cli.StringFlag{Name: "url", Usage: "URL peers and racks reach this region at (default: http://<listen address>; set it when listening on all interfaces)"},
			&cli.StringFlag{Name: "secret-file", Value: "/var/lib/maas/secret", EnvVars: []string{"BOOTFS_SECRET_FILE"},
				Usage: "shared secret file (created with a random secret if missing)"},
			&cli.StringFlag{Name: "database-url", EnvVars: []string{"BOOTFS_DATABASE_URL"},
				Usage: "PostgreSQL URL; without it an embedded PostgreSQL runs under --state-dir"},
			&cli.StringFlag{Name: "state-dir", Value: "/var/lib/bootfs-region", Usage: "embedded PostgreSQL's directory"},
			&cli.StringFlag{Name: "postgres-user", Usage: "OS user the embedded PostgreSQL runs as when started as root (default postgres)"},
			&cli.DurationFlag{Name: "import-interval", Value: time.Hour, Usage: "import from upstream this often (0: never)"},
			&cli.BoolFlag{Name: "import-on-start", Usage: "import once at start"},
			&cli.Int64Flag{Name: "verify-rate", Value: 50 << 20, Usage: "background re-hash rate in bytes/s (0: off)"},
			&cli.DurationFlag{Name: "verify-interval", Value: 24 * time.Hour, Usage: "pause between background verification passes"},
			&cli.DurationFlag{Name: "claim-ttl", Value: 30 * time.Second, Usage: "an upstream download claim expires this long after its region stops renewing it (then another region takes the download over)"},
			&cli.DurationFlag{Name: "sync-interval", Value: 30 * time.Second, Usage: "look for files to copy from peer regions at least this often (changes announced by other regions trigger it at once)"},
			&cli.DurationFlag{Name: "cleanup-grace", Value: 10 * time.Minute, Usage: "keep a replaced image version this long after its replacement is offered (racks and machines mid-boot move over)"},
			&cli.StringFlag{Name: "legacy-database", EnvVars: []string{"BOOTFS_LEGACY_DATABASE_URL"},
				Usage: "MAAS database (<= 3.4) to move boot images out of, once, before serving them (see `bootfs-region migrate`)"},
			&cli.BoolFlag{Name: "legacy-database-yes", Usage: "after copying, delete from the MAAS database the large objects verified on disk (irreversible; without it they stay until `bootfs-region migrate --yes`)"},
			&cli.BoolFlag{Name: "new-secret", Usage: "this region's secret file replaces the secret the regions recorded; use once after changing the secret on every region (a region whose secret differs refuses to start)"},
			&cli.StringFlag{Name: "metrics-token-file", EnvVars: []string{"BOOTFS_METRICS_TOKEN_FILE"},
				Usage: "file holding a read-only token accepted for GET /metrics and nothing else, so Prometheus scrapes without the shared secret (Prometheus: authorization.credentials_file)"},
			&cli.StringFlag{Name: "metrics-listen", Usage: "also serve GET /metrics, and nothing else, without credentials on this address (e.g. 127.0.0.1:9240; bind it where only Prometheus reaches)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
		},
		Action: func(c *cli.Context) error {
			log, err := newLogger(c.String("log-level"), c.String("log-format"))
			if err != nil {
				return err
			}
			interval := c.Duration("import-interval")
			if interval == 0 {
				interval = -1
			}
			verify := c.Int64("verify-rate")
			if verify == 0 {
				verify = -1
			}
			log.Info("bootfs-region starting", "version", version.String())
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			r, err := region.Open(ctx, region.Config{
				Name: c.String("name"), URL: c.String("url"), Listen: c.String("listen"),
				Storage: c.String("storage"), StateDir: c.String("state-dir"), DatabaseURL: c.String("database-url"),
				PostgresUser: c.String("postgres-user"), SecretFile: c.String("secret-file"),
				ImportInterval: interval, ImportOnStart: c.Bool("import-on-start"),
				VerifyRate: verify, VerifyInterval: c.Duration("verify-interval"), Log: log,
				ClaimTTL: c.Duration("claim-ttl"), SyncInterval: c.Duration("sync-interval"),
				MetricsTokenFile: c.String("metrics-token-file"), MetricsListen: c.String("metrics-listen"),
				Legacy:       newLegacyMigration(c.String("legacy-database"), c.Bool("legacy-database-yes")),
				CleanupGrace: cleanupGrace(c.Duration("cleanup-grace")),
				NewSecret:    c.Bool("new-secret"),
			})
			if err != nil {
				return err
			}
			defer r.Close()
			// Open has bound the listener and prepared everything the API
			// needs: connections from now on are served. Under systemd
			// (Type=notify) this is the service's readiness.
			notify(log, daemon.SdNotifyReady)
			stopping := sync.OnceFunc(func() { notify(log, daemon.SdNotifyStopping) })
			go func() {
				<-ctx.Done()
				stopping()
			}()
			err = r.Serve(ctx)
			stopping()
			return err
		},
	}
}

// notify sends state to systemd when started as a Type=notify service
// (NOTIFY_SOCKET set); elsewhere it does nothing.
func notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("systemd notification failed", "state", state, "err", err)
	}
}

// cleanupGrace maps the flag's 0 ("at once") to the config's negative value
// (its zero value means the default).
func cleanupGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
