package main

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootfs/bootfs/fs"
	"github.com/bootfs/bootfs/rack"
)

func TestParseMountArgsFstabLine(t *testing.T) {
	// What mount.fuse3 runs for the fstab line in the README (it adds dev
	// and suid unless nodev/nosuid are given).
	req, err := parseMountArgs([]string{"http://10.0.0.2:5240,http://10.0.0.3:5240", "/var/lib/maas/boot", "-o",
		"ro,allow_other,_netdev,cache_size=4G,cache_dir=/var/cache/bootfs,secret_file=/var/lib/maas/secret,x-systemd.requires=network-online.target,dev,suid"})
	if err != nil {
		t.Fatal(err)
	}
	c := req.cfg
	if strings.Join(c.Regions, " ") != "http://10.0.0.2:5240 http://10.0.0.3:5240" || c.Mountpoint != "/var/lib/maas/boot" ||
		c.FsName != "http://10.0.0.2:5240,http://10.0.0.3:5240" {
		t.Errorf("regions %v mountpoint %q fsname %q", c.Regions, c.Mountpoint, c.FsName)
	}
	if !c.AllowOther || c.CacheSize != 4<<30 || c.CacheDir != "/var/cache/bootfs" || c.SecretFile != "/var/lib/maas/secret" {
		t.Errorf("config %+v", c)
	}
	if req.foreground || req.logLevel != slog.LevelInfo || c.MetricsListen != "" || req.memoryLimit != defaultMemoryLimit {
		t.Errorf("defaults changed: %+v", req)
	}
}

func TestParseMountArgsEveryOption(t *testing.T) {
	req, err := parseMountArgs([]string{"-f", "http://r:5240", "mnt", "-ocache_size=512M,readahead=0",
		"-o", "metrics=127.0.0.1:9248,max_fetches=4,kernel_readahead=1M,tree_wait=10s,offline_after=5s,verify_cache",
		"-o", "log_level=warn,log_file=bootfs.log,fsname=boot,debug,cache_dir=c,secret_file=s,memory_limit=128M"})
	if err != nil {
		t.Fatal(err)
	}
	c := req.cfg
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	if !req.foreground || c.CacheSize != 512<<20 || c.Readahead != -1 || c.MetricsListen != "127.0.0.1:9248" ||
		c.MaxFetches != 4 || c.KernelReadahead != 1<<20 || c.TreeWait != 10*time.Second || c.OfflineAfter != 5*time.Second || !c.VerifyCache ||
		!c.Debug || req.logLevel != slog.LevelDebug || c.FsName != "boot" || req.memoryLimit != 128<<20 {
		t.Errorf("request %+v", req)
	}
	if c.Mountpoint != abs("mnt") || c.CacheDir != abs("c") || c.SecretFile != abs("s") || req.logFile != abs("bootfs.log") {
		t.Errorf("paths not made absolute: %q %q %q %q", c.Mountpoint, c.CacheDir, c.SecretFile, req.logFile)
	}
	if req, err := parseMountArgs([]string{"http://r", "m", "-d"}); err != nil || !req.foreground || !req.cfg.Debug {
		t.Errorf("-d: %+v, %v", req, err)
	}
	if req, err := parseMountArgs([]string{"http://r", "m", "-o", "cache_write=buffered"}); err != nil || !req.cfg.BufferedCacheWrites {
		t.Errorf("cache_write=buffered: %+v, %v", req, err)
	}
	if req, err := parseMountArgs([]string{"http://r", "m", "-o", "cache_write=buffered,cache_write=direct"}); err != nil || req.cfg.BufferedCacheWrites {
		t.Errorf("cache_write=direct: %+v, %v", req, err)
	}
	if req, err := parseMountArgs([]string{"http://r", "m", "-o", "kernel_readahead=0"}); err != nil || req.cfg.KernelReadahead != -1 {
		t.Errorf("kernel_readahead=0: %+v, %v", req, err)
	}
}

func TestParseMountArgsPrefetch(t *testing.T) {
	req, err := parseMountArgs([]string{"http://r", "m", "-o", "ro,prefetch=ubuntu/amd64/*/noble/stable/*:/bootx64.efi,prefetch_rate=1G/s"})
	if err != nil {
		t.Fatal(err)
	}
	if c := req.cfg; strings.Join(c.Prefetch, " ") != "ubuntu/amd64/*/noble/stable/* bootx64.efi" || c.PrefetchRate != 1<<30 {
		t.Errorf("prefetch %q rate %d", c.Prefetch, c.PrefetchRate)
	}
	if req, err := parseMountArgs([]string{"http://r", "m", "-o", "prefetch_rate=50MiB/s"}); err != nil || req.cfg.PrefetchRate != 50<<20 {
		t.Errorf("prefetch_rate=50MiB/s: %+v, %v", req.cfg.PrefetchRate, err)
	}
}

func TestParseMountArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"http://r", "m", "-o", "bogus"}, `unknown mount option "bogus"`},
		{[]string{"http://r", "m", "-o", "ro,cachesize=1G"}, `unknown mount option "cachesize=1G"`},
		{[]string{"http://r", "m", "-o", "rw"}, "read-only"},
		{[]string{"http://r", "m", "-o", "cache_size=lots"}, `"lots" is not a size`},
		{[]string{"http://r", "m", "-o", "cache_size=-1G"}, "is not a size"},
		{[]string{"http://r", "m", "-o", "cache_size"}, "needs a value"},
		{[]string{"http://r", "m", "-o", "allow_other=yes"}, "takes no value"},
		{[]string{"http://r", "m", "-o", "readahead=many"}, "not a number"},
		{[]string{"http://r", "m", "-o", "max_fetches=0"}, "not a number from 1"},
		{[]string{"http://r", "m", "-o", "metrics=9248"}, "not a listen address"},
		{[]string{"http://r", "m", "-o", "log_level=loud"}, "log_level"},
		{[]string{"http://r", "m", "-o", "tree_wait=1h"}, "not a duration"},
		{[]string{"http://r", "m", "-o", "cache_dir="}, "empty value"},
		{[]string{"http://r", "m", "-o", "memory_limit=1M"}, "at least 16M"},
		{[]string{"http://r", "m", "-o"}, "-o needs"},
		{[]string{"http://r", "m", "-o", "prefetch_rate=fast"}, `mount option prefetch_rate=fast: "fast" is not a rate: want SIZE/s, e.g. 50M/s`},
		{[]string{"http://r", "m", "-o", "prefetch_rate=50M"}, "want SIZE/s"},
		{[]string{"http://r", "m", "-o", "prefetch_rate=1K/s"}, "below the minimum of 64K/s"},
		{[]string{"http://r", "m", "-o", "prefetch_rate"}, "needs a value"},
		{[]string{"http://r", "m", "-o", "prefetch=ubuntu/[amd64/*"}, `glob "ubuntu/[amd64/*" is malformed`},
		{[]string{"http://r", "m", "-o", "prefetch=a::b"}, "empty glob"},
		{[]string{"http://r", "m", "-o", "cache_write=fast"}, "mount option cache_write=fast: want direct or buffered"},
		{[]string{"http://r", "m", "-o", "cache_write"}, "needs a value"},
		{[]string{"http://r", "m", "-x"}, `unknown flag "-x"`},
		{[]string{"http://r"}, "want SOURCE and MOUNTPOINT"},
		{[]string{"http://r", "m", "extra"}, "want SOURCE and MOUNTPOINT"},
		{[]string{"ftp://r", "m"}, "not an http:// or https:// URL"},
		{[]string{",", "m"}, "lists no region"},
	} {
		_, err := parseMountArgs(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.args, err, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"4G": 4 << 30, "4g": 4 << 30, "4GiB": 4 << 30, "4GB": 4 << 30, "512M": 512 << 20, "64K": 64 << 10,
		"1T": 1 << 40, "1048576": 1 << 20, "0": 0,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "1.5G", "4X", "-4G", "99999999999T"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestPrintStatus(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	alive := true
	st := &rack.Status{
		Mountpoint: "/var/lib/maas/boot", Source: "http://a:5240,http://b:5240", Started: now.Add(-time.Hour),
		Tree: rack.TreeStatus{Generation: "abc123", Files: 42, Bytes: 3 << 30, Updated: now.Add(-time.Minute),
			LastAnswer: now.Add(-5 * time.Second), Updates: 2},
		Cache: rack.CacheStatus{Dir: "/var/cache/bootfs", Limit: 4 << 30, Used: 1 << 30, Blocks: 1024, Files: 7, Evictions: 3},
		Reads: rack.ReadStatus{BlockHits: 900, BlockMisses: 100, HitRatio: 0.9, Reads: 5000, ReadBytes: 2 << 30,
			Fetches: 120, BytesFetched: 120 << 20, VerifyFailures: 1},
		Regions: []rack.RegionStatus{
			{URL: "http://a:5240", Name: "region1", Alive: &alive, BytesFetched: 100 << 20, Requests: 110},
			{URL: "http://b:5240", BytesFetched: 20 << 20, Requests: 30, Errors: 4, VerifyFailures: 1,
				BackoffUntil: now.Add(12 * time.Second), LastError: "HTTP 503\nretry"},
		},
	}
	var b bytes.Buffer
	if err := printStatus(&b, st, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"/var/lib/maas/boot from http://a:5240,http://b:5240, up 1h0m0s",
		"generation abc123, 42 files, 3.0 GiB; installed 1m0s ago, 2 updates; last answer 5s ago",
		"1.0 GiB of 4.0 GiB (25%) in /var/cache/bootfs: 7 files, 1024 blocks; 0 passthrough opens; 3 evicted",
		"hit ratio 90.0% (900 blocks hit, 100 missed)",
		"120 blocks, 120.0 MiB", "1 failed verification",
		"http://a:5240  region1  100.0 MiB", "ok",
		"http://b:5240  -        20.0 MiB   30        4       1        backing off 12s: HTTP 503; retry",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}

	st.Tree.Offline, st.Tree.OfflineSince, st.Tree.LastError = true, now.Add(-90*time.Second), "tree: no region could serve the request"
	st.Tree.Skipped = 2
	st.Tree.SkippedEntries = []fs.Skipped{{Path: "../../../x", Why: `invalid tree: "../../../x": component ".." is dot component`}}
	st.Reads.WholeFileChecks, st.Reads.WholeFileFailures = 5, 1
	st.Tree.TooLarge, st.Tree.SuggestedCacheSize = []string{"custom/amd64/generic/big/uploaded/root-dd"}, 11<<30
	st.Prefetch = &rack.PrefetchStatus{Globs: []string{"ubuntu/amd64/*/noble/stable/*"}, RateLimit: 50 << 20,
		FilesDone: 1, FilesTotal: 3, BytesDone: 300 << 20, BytesTotal: 1 << 30, BytesFetched: 280 << 20,
		Current: "ubuntu/amd64/ga-24.04/noble/stable/squashfs", CurrentDone: 200 << 20, CurrentSize: 900 << 20,
		Queued: 1, BytesPerSecond: 49 << 20, Paused: true}
	b.Reset()
	if err := printStatus(&b, st, now); err != nil {
		t.Fatal(err)
	}
	out = b.String()
	for _, want := range []string{
		"offline since 2025-01-02T03:02:35Z (1m30s): serving the last tree and the cached files",
		"2 entries skipped as bad or clashing", `"../../../x": invalid tree`, "and 1 more",
		"5 whole cached files checked against their sha256 before passthrough, 1 FAILED",
		"WARNING: 1 files larger than cache_size (4.0 GiB) are read through, never held",
		"custom/amd64/generic/big/uploaded/root-dd; mount with cache_size=11G to hold them",
		"prefetch  ubuntu/amd64/*/noble/stable/*: 1 of 3 files, 300.0 MiB of 1.0 GiB; 280.0 MiB fetched at 49.0 MiB/s (limit 50.0 MiB/s), paused for reads",
		"now ubuntu/amd64/ga-24.04/noble/stable/squashfs (200.0 MiB of 900.0 MiB), 1 more queued",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("offline status output lacks %q:\n%s", want, out)
		}
	}
}
