package rack

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/rack/cache"
)

// Defaults applied to zero Config fields.
const (
	DefaultCacheDir      = "/var/cache/bootfs"
	DefaultCacheSize     = cache.DefaultLimit // 4 GiB
	DefaultSecretFile    = "/var/lib/maas/secret"
	DefaultTreeWait      = 30 * time.Second
	DefaultFlushInterval = 30 * time.Second
	DefaultDrainTimeout  = 10 * time.Second
	DefaultOfflineAfter  = 15 * time.Second
	// DefaultKernelReadahead is four blocks.
	DefaultKernelReadahead = 4 << 20
	// cacheLockWait is how long Start waits for a cache directory still
	// held by a bootfs that is shutting down (umount then mount at once).
	cacheLockWait = 15 * time.Second
)

var (
	// ErrNoRegion is returned (wrapped, with every region's error) by Start
	// when no region answered with the boot tree.
	ErrNoRegion = errors.New("no region answered with the boot tree")
	// ErrBusy is returned (wrapped) by Close when the mount, detached
	// lazily, was still in use after Config.DrainTimeout.
	ErrBusy = errors.New("mount still in use")
)

// Config configures Start. Zero values get the documented defaults.
type Config struct {
	// Regions are the regions' base URLs, e.g. "http://10.0.0.2:5240".
	// At least one is required.
	Regions []string
	// Secret is the shared secret. When empty it is read from SecretFile
	// (surrounding white space removed).
	Secret string
	// SecretFile holds the shared secret. Default /var/lib/maas/secret.
	SecretFile string
	// Mountpoint is the directory to mount on; it must exist.
	Mountpoint string
	// CacheDir is the block cache directory, created if missing. Default
	// /var/cache/bootfs. Two mounts cannot share one.
	CacheDir string
	// CacheSize bounds the cached block bytes. Default 4 GiB; at least
	// one block (1 MiB).
	CacheSize int64
	// AllowOther lets other users (tftpd-hpa serves as nobody, nginx as
	// www-data) read the mount.
	AllowOther bool
	// Readahead is how many blocks are fetched ahead of a sequential
	// reader. Zero means the reader's default (8); negative turns it off.
	Readahead int
	// MaxFetches bounds concurrent block fetches from regions. Zero means
	// the reader's default (16).
	MaxFetches int
	// VerifyCache re-checks the sha256 of every block read from the disk
	// cache (and the cache's CRCs on every read), for distrusted disks.
	VerifyCache bool
	// BufferedCacheWrites writes blocks into the disk cache through the
	// page cache instead of with O_DIRECT (cache.Options.BufferedWrites).
	BufferedCacheWrites bool
	// NoPassthrough turns FUSE passthrough off. By default a file whose
	// blocks are all in the disk cache is opened in passthrough mode: the
	// kernel reads the cache's content file directly, at local-file speed,
	// after its bytes were checked once (see cache.Cache.Backing). It
	// needs CAP_SYS_ADMIN; without it reads go through bootfs as usual.
	NoPassthrough bool
	// KernelReadahead is the kernel's readahead on the mount in bytes (the
	// read_ahead_kb of its backing device, set after mounting; root only).
	// Large enough, it turns a sequential reader's 128 KiB FUSE reads into
	// 1 MiB ones, one block each, several in flight. Default 4 MiB;
	// negative keeps the kernel's default (128 KiB).
	KernelReadahead int
	// FsName is the source shown in /proc/mounts. Default: the region URLs
	// joined by commas.
	FsName string
	// Debug logs every FUSE request at debug level.
	Debug bool
	// MetricsListen, if set, serves Prometheus metrics at
	// http://MetricsListen/metrics. Off by default.
	MetricsListen string
	// TreeWait is how long one tree long-poll may be held by a region.
	// Default 30s.
	TreeWait time.Duration
	// FlushInterval is how often the cache index is persisted. Default 30s.
	FlushInterval time.Duration
	// OfflineAfter is how long Start waits for a region to answer with the
	// tree when the cache directory holds a saved tree; then it mounts
	// offline from that tree. Without a saved tree Start waits as long as
	// its context allows. Default 15s.
	OfflineAfter time.Duration
	// Prefetch lists tree path globs (path.Match per component, e.g.
	// "ubuntu/amd64/*/noble/stable/*"): files of the tree matching one are
	// fetched into the cache in the background when they appear (and at
	// start when not cached), so the first machine to boot them reads
	// warm. Empty: no prefetching.
	Prefetch []string
	// PrefetchRate bounds prefetching in bytes per second. Default
	// DefaultPrefetchRate (50 MiB/s). Prefetching also waits while reads
	// fetch from regions.
	PrefetchRate int64
	// DrainTimeout is how long Close waits for a busy mount to be released
	// after a lazy unmount. Default 10s.
	DrainTimeout time.Duration
	// Log receives the mount's log. Default: discard.
	Log *slog.Logger
	// HTTP is the client used to reach regions; nil means the region
	// client's tuned default.
	HTTP *http.Client
}

// withDefaults applies the documented defaults and checks what can be
// checked without touching the system.
func (c Config) withDefaults() (Config, error) {
	if len(c.Regions) == 0 {
		return c, errors.New("no region URL given")
	}
	if c.Mountpoint == "" {
		return c, errors.New("no mountpoint given")
	}
	mp, err := filepath.Abs(c.Mountpoint)
	if err != nil {
		return c, fmt.Errorf("mountpoint %s: %w", c.Mountpoint, err)
	}
	c.Mountpoint = mp
	if c.SecretFile == "" {
		c.SecretFile = DefaultSecretFile
	}
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.CacheSize < digest.BlockSize {
		return c, fmt.Errorf("cache size %d bytes is smaller than one block (%d bytes)", c.CacheSize, digest.BlockSize)
	}
	if len(c.Prefetch) > 0 {
		globs, err := checkGlobs(c.Prefetch)
		if err != nil {
			return c, err
		}
		c.Prefetch = globs
	}
	if c.PrefetchRate < 0 {
		return c, fmt.Errorf("prefetch rate %d bytes/s is negative", c.PrefetchRate)
	}
	if c.PrefetchRate == 0 {
		c.PrefetchRate = DefaultPrefetchRate
	}
	if c.FsName == "" {
		c.FsName = strings.Join(c.Regions, ",")
	}
	if c.KernelReadahead == 0 {
		c.KernelReadahead = DefaultKernelReadahead
	}
	if c.TreeWait <= 0 {
		c.TreeWait = DefaultTreeWait
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.OfflineAfter <= 0 {
		c.OfflineAfter = DefaultOfflineAfter
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// secret returns Config.Secret, or the secret read from SecretFile.
func (c Config) secret() (string, error) {
	if c.Secret != "" {
		return c.Secret, nil
	}
	b, err := os.ReadFile(c.SecretFile)
	if err != nil {
		return "", fmt.Errorf("read the shared secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", c.SecretFile)
	}
	return s, nil
}

// checkMountpoint checks that dir is a directory. A stale FUSE mount
// ("transport endpoint is not connected") passes: fs.Mount detaches it.
func checkMountpoint(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case isNotConnected(err):
		return nil
	case err != nil:
		return fmt.Errorf("mountpoint: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("mountpoint %s is not a directory", dir)
	}
	return nil
}
