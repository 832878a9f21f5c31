package main

// Native fuzz targets for the mount command line: -o option lists (from
// fstab, mount.fuse3 or a person) and the sizes in them. Seeds are in
// testdata/fuzz/<Target>.

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseSize: an accepted size is a non-negative byte count no larger
// than 2^62, equal to its digits times the suffix's power of 1024, and its
// plain decimal form parses to the same value.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"4G", "512M", "1T", "64K", "1048576", "4GiB", "4GB", "0", "-1", "", "G", "4096T", "9223372036854775807", " 8m ", "1iB", "1.5G", "+7K"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseSize(s)
		if err != nil {
			if v != 0 {
				t.Fatalf("parseSize(%q) = %d with error %v", s, v, err)
			}
			return
		}
		if v < 0 || v > 1<<62 {
			t.Fatalf("parseSize(%q) = %d", s, v)
		}
		if back, err := parseSize(strconv.FormatInt(v, 10)); err != nil || back != v {
			t.Fatalf("parseSize(%q) = %d, but its decimal form gives %d, %v", s, v, back, err)
		}
		num := strings.ToUpper(strings.TrimSpace(s))
		num = strings.TrimSuffix(strings.TrimSuffix(num, "B"), "I")
		shift := map[byte]int{'K': 10, 'M': 20, 'G': 30, 'T': 40}[num[len(num)-1]]
		if shift > 0 {
			num = num[:len(num)-1]
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n<<shift != v || (n<<shift)>>shift != n {
			t.Fatalf("parseSize(%q) = %d, digits %q shifted by %d disagree", s, v, num, shift)
		}
	})
}

// FuzzMountOptions: parsing never panics, an option list either fails or
// leaves every setting in its documented range, and parsing is independent
// of how the options are split into -o arguments.
func FuzzMountOptions(f *testing.F) {
	for _, s := range []string{
		"ro,allow_other,_netdev,cache_size=4G,cache_dir=/var/cache/bootfs,secret_file=/var/lib/maas/secret,x-systemd.requires=network-online.target,dev,suid",
		"cache_size=512M,readahead=0,metrics=127.0.0.1:9248,max_fetches=4,kernel_readahead=1M,tree_wait=10s,verify_cache",
		"log_level=warn,log_file=bootfs.log,fsname=boot,debug,memory_limit=128M,no_passthrough",
		"rw", "cache_size", "allow_other=1", "readahead=1025", "tree_wait=0s", "memory_limit=1M", "metrics=:", "comment=x,=,,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		req := &mountRequest{logLevel: slog.LevelInfo, memoryLimit: defaultMemoryLimit}
		if err := parseOptions(req, []string{list}); err != nil {
			return
		}
		c := req.cfg
		switch {
		case c.CacheSize < 0:
			t.Fatalf("%q: cache size %d", list, c.CacheSize)
		case c.Readahead != -1 && (c.Readahead < 0 || c.Readahead > 1024):
			t.Fatalf("%q: readahead %d", list, c.Readahead)
		case c.MaxFetches < 0 || c.MaxFetches > 1024:
			t.Fatalf("%q: max_fetches %d", list, c.MaxFetches)
		case c.KernelReadahead < -1:
			t.Fatalf("%q: kernel_readahead %d", list, c.KernelReadahead)
		case c.TreeWait != 0 && (c.TreeWait < time.Second || c.TreeWait > 5*time.Minute):
			t.Fatalf("%q: tree_wait %s", list, c.TreeWait)
		case req.memoryLimit < 16<<20:
			t.Fatalf("%q: memory_limit %d", list, req.memoryLimit)
		}
		// The same options given one per -o parse the same.
		split := &mountRequest{logLevel: slog.LevelInfo, memoryLimit: defaultMemoryLimit}
		if err := parseOptions(split, strings.Split(list, ",")); err != nil {
			t.Fatalf("%q accepted as one list but refused one option per -o: %v", list, err)
		}
		if split.cfg.CacheSize != c.CacheSize || split.cfg.Readahead != c.Readahead || split.cfg.CacheDir != c.CacheDir ||
			split.memoryLimit != req.memoryLimit || split.logLevel != req.logLevel || split.cfg.FsName != c.FsName {
			t.Fatalf("%q: parsed differently when split", list)
		}
	})
}
