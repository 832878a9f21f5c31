// Package region is the region controller daemon (`bootfs-region serve`):
// the canonical store of boot files, once per sha256 on local disk, with
// metadata in PostgreSQL. It wires the pieces that live in its
// subpackages:
//
//	pgembed      the embedded PostgreSQL, when no --database-url is given
//	db           schema, migrations and queries
//	store        the content-addressed files and their one verifying write path
//	simplestreams, importer   reading upstream mirrors and recording their sets
//	sync         bringing every file a set needs onto this region (peers or upstream)
//	tree         which sets racks see (only those complete on every region)
//	httpapi      the API racks and peer regions read
//
// Run starts them in order: database, migration, store, registration,
// start-up reconcile; then the HTTP server, the tree watcher, heartbeats,
// the background verifier and the import loop run until the context ends.
package region

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config configures a region. Zero values get the defaults noted.
type Config struct {
	Name              string        // region name (default: host name)
	URL               string        // how peers and racks reach this region (default http://<listen address>)
	Listen            string        // HTTP listen address (default :5240)
	Storage           string        // store directory (default /var/lib/maas/image-storage)
	StateDir          string        // embedded PostgreSQL state (default /var/lib/bootfs-region)
	DatabaseURL       string        // external PostgreSQL; "" starts the embedded one
	PostgresUser      string        // OS user for the embedded PostgreSQL when root (default postgres)
	SecretFile        string        // shared secret (default /var/lib/maas/secret; created if missing)
	ImportInterval    time.Duration // periodic import (default 1h; negative: never)
	ImportOnStart     bool          // import once at start
	HeartbeatInterval time.Duration // default 10s
	AliveWindow       time.Duration // heartbeat age that counts as alive (default 60s)
	VerifyRate        int64         // background re-hash bytes/s (default 50 MiB/s; negative: off)
	VerifyInterval    time.Duration // pause between verifier passes (default 24h)
	ClaimTTL          time.Duration // upstream download claim lifetime without renewal (default 30s)
	SyncInterval      time.Duration // look for files to copy from peers at least this often (default 30s)
	CleanupGrace      time.Duration // keep a replaced set this long after its replacement is published (default 10m; negative: 0)
	NewSecret         bool          // this region's secret replaces the one the regions recorded (after changing it everywhere)
	Log               *slog.Logger

	// Legacy moves boot images out of a MAAS database before they are
	// served (nil: none); cmd/bootfs-region builds it for
	// --legacy-database with package migrate.
	Legacy LegacyMigrator

	// MetricsTokenFile holds a read-only token accepted for GET /metrics
	// and nothing else, so Prometheus never holds the shared secret ("":
	// none; /metrics then needs the secret).
	MetricsTokenFile string
	// MetricsListen, if set, is a second address serving only GET
	// /metrics, without credentials (bind it where only Prometheus
	// reaches, e.g. 127.0.0.1:9240).
	MetricsListen string
}

func (c *Config) applyDefaults() error {
	host, _ := os.Hostname()
	if c.Name == "" {
		c.Name = host
	}
	if c.Listen == "" {
		c.Listen = ":5240"
	}
	c.URL = strings.TrimRight(c.URL, "/") // "" means: http://<listen address> once listening
	if c.Storage == "" {
		c.Storage = "/var/lib/maas/image-storage"
	}
	if c.StateDir == "" {
		c.StateDir = "/var/lib/bootfs-region"
	}
	if c.SecretFile == "" {
		c.SecretFile = "/var/lib/maas/secret"
	}
	if c.ImportInterval == 0 {
		c.ImportInterval = time.Hour
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 10 * time.Second
	}
	if c.AliveWindow <= 0 {
		c.AliveWindow = 60 * time.Second
	}
	if c.VerifyRate == 0 {
		c.VerifyRate = 50 << 20
	}
	if c.VerifyInterval <= 0 {
		c.VerifyInterval = 24 * time.Hour
	}
	if c.ClaimTTL <= 0 {
		c.ClaimTTL = 30 * time.Second
	}
	if c.CleanupGrace == 0 {
		c.CleanupGrace = 10 * time.Minute
	}
	if c.CleanupGrace < 0 {
		c.CleanupGrace = 0
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Name == "" {
		return errors.New("region name is empty and the host name is unknown: pass --name")
	}
	return nil
}

// ErrSecretMismatch: this region's shared secret is not the one the other
// regions of its database use.
var ErrSecretMismatch = errors.New("shared secret differs from the other regions'")

// secretFingerprint identifies a secret without revealing it: an HMAC-SHA256
// keyed with the secret.
func secretFingerprint(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("bootfs region secret fingerprint v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// LoadSecret reads the shared secret from path. With create set, a missing
// file is created with a new random secret (mode 0600), the way MAAS
// creates /var/lib/maas/secret.
func LoadSecret(path string, create bool) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		raw := make([]byte, 16)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		secret := hex.EncodeToString(raw)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadSecret(path, false) // another process created it first
		}
		if err != nil {
			return nil, fmt.Errorf("create secret file: %w", err)
		}
		_, err = f.WriteString(secret + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("write secret file: %w", err)
		}
		return []byte(secret), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, fmt.Errorf("secret file %s is empty", path)
	}
	return []byte(s), nil
}
