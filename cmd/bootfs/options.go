package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/bootfs/bootfs/rack"
)

// mountRequest is everything the mount form of the command line asks for.
type mountRequest struct {
	cfg      rack.Config
	logLevel slog.Level
	logFile  string // "" logs to stderr (-f) or syslog (in the background)
	// memoryLimit is the Go runtime's soft memory limit (memory_limit=).
	memoryLimit int64
	// foreground: -f (or -d); otherwise the command returns once the
	// mount is ready and a background process serves it.
	foreground bool
}

// ignoredOptions are generic mount options mount(8), fstab and mount.fuse3
// pass along that mean nothing here (the mount is always read-only, nodev
// and nosuid).
var ignoredOptions = map[string]bool{
	"ro": true, "defaults": true, "auto": true, "noauto": true, "user": true, "nouser": true,
	"users": true, "_netdev": true, "nofail": true, "dev": true, "nodev": true, "suid": true,
	"nosuid": true, "exec": true, "noexec": true, "async": true, "sync": true, "atime": true,
	"noatime": true, "relatime": true, "norelatime": true, "strictatime": true, "nodiratime": true,
	"diratime": true, "lazytime": true, "nolazytime": true, "default_permissions": true,
	"kernel_cache": true, "owner": true, "group": true, "loud": true, "silent": true,
}

// ignoredPrefixes are option families ignored likewise (x-systemd.*,
// x-gvfs-*, comment=...).
var ignoredPrefixes = []string{"x-", "comment="}

// parseOptions applies the -o options (each a comma-separated list) to req.
// Unknown and malformed options are errors.
func parseOptions(req *mountRequest, lists []string) error {
	for _, list := range lists {
		for _, opt := range strings.Split(list, ",") {
			if err := parseOption(req, opt); err != nil {
				return err
			}
		}
	}
	return nil
}

func parseOption(req *mountRequest, opt string) error {
	opt = strings.TrimSpace(opt)
	if opt == "" || ignoredOptions[opt] {
		return nil
	}
	for _, p := range ignoredPrefixes {
		if strings.HasPrefix(opt, p) {
			return nil
		}
	}
	name, value, hasValue := strings.Cut(opt, "=")
	c := &req.cfg
	flag := func(set func()) error {
		if hasValue {
			return fmt.Errorf("mount option %s takes no value", name)
		}
		set()
		return nil
	}
	if !hasValue && valueOptions[name] {
		return fmt.Errorf("mount option %s needs a value (%s=...)", name, name)
	}
	var err error
	switch name {
	case "rw":
		return errors.New("mount option rw: the boot tree is read-only; mount it ro")
	case "allow_other":
		return flag(func() { c.AllowOther = true })
	case "debug":
		return flag(func() { c.Debug, req.logLevel = true, slog.LevelDebug })
	case "verify_cache":
		return flag(func() { c.VerifyCache = true })
	case "no_passthrough":
		return flag(func() { c.NoPassthrough = true })
	case "cache_size":
		c.CacheSize, err = parseSize(value)
	case "cache_write":
		switch value {
		case "direct":
			c.BufferedCacheWrites = false
		case "buffered":
			c.BufferedCacheWrites = true
		default:
			err = errors.New("want direct or buffered")
		}
	case "cache_dir":
		c.CacheDir, err = nonEmpty(value)
	case "secret_file":
		c.SecretFile, err = nonEmpty(value)
	case "metrics":
		c.MetricsListen, err = listenAddr(value)
	case "readahead":
		var n int
		n, err = parseCount(value, 0, 1024)
		c.Readahead = n
		if n == 0 {
			c.Readahead = -1 // readahead=0 turns it off
		}
	case "max_fetches":
		c.MaxFetches, err = parseCount(value, 1, 1024)
	case "kernel_readahead":
		var n int64
		n, err = parseSize(value)
		c.KernelReadahead = int(n)
		if n == 0 {
			c.KernelReadahead = -1 // 0 keeps the kernel's default
		}
	case "tree_wait":
		c.TreeWait, err = parseDuration(value, time.Second, 5*time.Minute)
	case "offline_after":
		c.OfflineAfter, err = parseDuration(value, 100*time.Millisecond, 10*time.Minute)
	case "prefetch":
		c.Prefetch, err = parseGlobs(value)
	case "prefetch_rate":
		c.PrefetchRate, err = parseRate(value)
	case "memory_limit":
		req.memoryLimit, err = parseSize(value)
		if err == nil && req.memoryLimit < 16<<20 {
			err = errors.New("at least 16M")
		}
	case "log_level":
		err = req.logLevel.UnmarshalText([]byte(value))
	case "log_file":
		req.logFile, err = nonEmpty(value)
	case "fsname":
		c.FsName, err = nonEmpty(value)
	default:
		return fmt.Errorf("unknown mount option %q (bootfs --help lists them)", opt)
	}
	if err != nil {
		return fmt.Errorf("mount option %s: %w", opt, err)
	}
	return nil
}

// valueOptions are the options that need "=VALUE".
var valueOptions = map[string]bool{
	"cache_size": true, "cache_write": true, "cache_dir": true, "secret_file": true, "metrics": true, "readahead": true,
	"max_fetches": true, "kernel_readahead": true, "tree_wait": true, "offline_after": true, "log_level": true,
	"log_file": true, "fsname": true, "memory_limit": true, "prefetch": true, "prefetch_rate": true,
}

// parseGlobs reads prefetch=GLOB[:GLOB...]: tree paths with path.Match
// patterns per component, e.g. ubuntu/amd64/*/noble/stable/*.
func parseGlobs(s string) ([]string, error) {
	var out []string
	for _, g := range strings.Split(s, ":") {
		g = strings.TrimPrefix(g, "/")
		if g == "" {
			return nil, fmt.Errorf("%q has an empty glob (GLOB[:GLOB...], e.g. ubuntu/amd64/*/noble/stable/*)", s)
		}
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("glob %q is malformed (path.Match syntax per path component: * ? [a-z] \\x)", g)
		}
		out = append(out, g)
	}
	return out, nil
}

// parseRate reads a rate SIZE/s (parseSize's sizes: 50M/s, 1G/s); it must
// be at least 64K/s.
func parseRate(s string) (int64, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "/s")
	if !ok {
		return 0, fmt.Errorf("%q is not a rate: want SIZE/s, e.g. 50M/s or 1G/s", s)
	}
	n, err := parseSize(num)
	if err != nil {
		return 0, fmt.Errorf("%q is not a rate: want SIZE/s, e.g. 50M/s or 1G/s", s)
	}
	if n < 64<<10 {
		return 0, fmt.Errorf("rate %q is below the minimum of 64K/s", s)
	}
	return n, nil
}

// parseSize reads a byte count with an optional binary suffix: 4G, 512M,
// 1T, 64K, 1048576, 4GiB, 4GB (K, M, G, T are powers of 1024).
func parseSize(s string) (int64, error) {
	num := strings.TrimSpace(s)
	upper := strings.ToUpper(num)
	upper = strings.TrimSuffix(strings.TrimSuffix(upper, "B"), "I")
	shift := 0
	if n := len(upper); n > 0 {
		switch upper[n-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift > 0 {
			upper = upper[:n-1]
		}
	}
	v, err := strconv.ParseInt(upper, 10, 64)
	if err != nil || v < 0 || upper == "" {
		return 0, fmt.Errorf("%q is not a size (e.g. 4G, 512M, 1T)", s)
	}
	if v > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return v << shift, nil
}

func parseCount(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not a number from %d to %d", s, lo, hi)
	}
	return n, nil
}

func parseDuration(s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("%q is not a duration from %s to %s (e.g. 30s)", s, lo, hi)
	}
	return d, nil
}

func nonEmpty(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty value")
	}
	return s, nil
}

// listenAddr checks a HOST:PORT listen address.
func listenAddr(s string) (string, error) {
	if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
		return "", fmt.Errorf("%q is not a listen address (e.g. 127.0.0.1:9248 or :9248)", s)
	}
	return s, nil
}

// parseSource splits SOURCE, a comma-separated list of region URLs.
func parseSource(source string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(source, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("region %q is not an http:// or https:// URL", s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("SOURCE %q lists no region URL", source)
	}
	return out, nil
}
