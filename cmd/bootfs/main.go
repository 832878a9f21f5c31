// Command bootfs mounts a rack's boot tree: a read-only FUSE file system
// showing the regions' boot images, whose bytes are fetched block by block
// from the regions, verified, and kept in an on-disk LRU cache. Stock
// tftpd-hpa and nginx serve the mount to PXE-booting machines.
//
// The mount form follows mount.fuse3's calling convention, so an fstab line
// of type fuse.bootfs works with mount(8):
//
//	bootfs SOURCE MOUNTPOINT [-o OPTIONS] [-f]
//
// The other commands (status, warm) talk to a running mount.
package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/cliargs"
	"github.com/bootfs/bootfs/internal/clidoc"
)

// appCommands are the words that select the command-line app rather than
// the mount form.
var appCommands = []string{"status", "warm", "mount", "help", "h", "--help", "-h", "--version", "-v", "generate-docs"}

func main() {
	args := os.Args
	var err error
	if len(args) > 1 && !slices.Contains(appCommands, args[1]) {
		err = mountMain(args[1:])
	} else {
		// `bootfs status MOUNTPOINT --json` as well as
		// `bootfs status --json MOUNTPOINT`.
		app := newApp()
		err = app.Run(cliargs.Interspersed(app.Commands, args))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bootfs: %v\n", err)
		os.Exit(1)
	}
}

// newApp returns the command line, set up for running (help, --version,
// the hidden generate-docs command of the man page and completion).
func newApp() *cli.App {
	app := &cli.App{
		Name:        "bootfs",
		Usage:       "mount a rack's boot tree from bootfs regions, with a verified block cache",
		UsageText:   "bootfs SOURCE MOUNTPOINT [-o OPTIONS] [-f]\nbootfs status MOUNTPOINT [--json]\nbootfs warm MOUNTPOINT PATH... [--jobs N]",
		Description: mountHelp,
		Commands:    []*cli.Command{mountCommand(), statusCommand(), warmCommand()},
	}
	clidoc.Setup(app, manPage, map[string][]string{"": {"-o", "-f"}, "/mount": {"-o", "-f"}})
	return app
}

var manPage = clidoc.ManPage{
	Section: "8",
	Extra: []clidoc.Part{
		{Title: "Files", Text: `/etc/fstab
   the rack's mount line (example: /usr/share/doc/bootfs/examples/fstab).

/var/lib/maas/boot
   the mount point tftpd-hpa and nginx serve.

/var/cache/bootfs
   the block cache (cache_dir=).

/var/lib/maas/secret
   the regions' shared secret (secret_file=), copied from a region.

/etc/nginx/sites-available/bootfs-rack, /etc/bootfs/tftpd.map, /usr/share/bootfs/
   the nginx site, the tftpd-hpa map file, tftpd-hpa settings and systemd drop-ins (none
   enabled at installation; see /usr/share/doc/bootfs/README.md).`},
	},
	SeeAlso: []string{"bootfs-region(8)", "mount(8)", "mount.fuse3(8)", "fstab(5)", "in.tftpd(8)", "nginx(8)"},
}

const mountHelp = `Mounting:

   bootfs SOURCE MOUNTPOINT [-o OPTIONS] [-f]

   SOURCE is a comma-separated list of region URLs, e.g.
   http://10.0.0.2:5240,http://10.0.0.3:5240. MOUNTPOINT must exist. Without
   -f the command returns once the mount is ready and serving, leaving a
   background process that serves it (logging to log_file, else to syslog);
   with -f it serves in the foreground, logging to stderr (-d: -f plus FUSE
   debug logging). umount, fusermount3 -u or SIGTERM unmount it cleanly. The
   mount is read-only: writes, creates and renames fail with EROFS.

   fstab (mount(8) runs mount.fuse3, which runs "bootfs SOURCE MOUNTPOINT -o ..."):

   http://10.0.0.2:5240,http://10.0.0.3:5240  /var/lib/maas/boot  fuse.bootfs  ro,allow_other,_netdev,cache_size=4G,cache_dir=/var/cache/bootfs,secret_file=/var/lib/maas/secret  0 0

Options (-o, comma-separated):

   cache_size=SIZE      bytes of blocks kept on disk (default 4G; K, M, G, T suffixes)
   cache_dir=DIR        block cache directory (default /var/cache/bootfs)
   cache_write=MODE     direct (default): write cached blocks with O_DIRECT, no second
                        page-cache copy of what the mount holds; buffered: through the
                        page cache (blocks stay in memory, each costs a copy)
   secret_file=FILE     the regions' shared secret (default /var/lib/maas/secret)
   allow_other          let other users read the mount (tftpd-hpa and nginx need it)
   metrics=ADDR         serve Prometheus metrics at http://ADDR/metrics (default off)
   readahead=N          blocks (1 MiB) fetched ahead of a sequential reader (default 8; 0 off)
   max_fetches=N        concurrent block fetches from regions (default 16)
   kernel_readahead=SIZE  the kernel's readahead on the mount (default 4M; 0: the kernel's 128K)
   tree_wait=DURATION   how long one tree long-poll is held by a region (default 30s)
   offline_after=DURATION  with a tree saved in cache_dir, how long the mount waits for
                        a region before it mounts offline from that tree (default 15s)
   prefetch=GLOB[:GLOB...]  fetch the tree's files matching a glob into the cache in the
                        background as soon as they appear (and at start when not cached),
                        e.g. prefetch=ubuntu/amd64/*/noble/stable/*; * matches within one
                        path component (default off)
   prefetch_rate=SIZE/s bound on prefetching, e.g. 50M/s or 1G/s (default 50M/s, 40% of
                        1 Gbit/s); prefetching also waits while reads fetch from regions
   verify_cache         re-check the sha256 of every block read from the disk cache
                        (turns passthrough off: the kernel's reads could not be checked)
   no_passthrough       never let the kernel read wholly cached files directly
                        (FUSE passthrough, used by default when running as root)
   memory_limit=SIZE    soft limit of the Go heap (default 80M; GOMEMLIMIT overrides);
                        the reader's block buffers (huge pages, a few dozen MiB) come on top
   log_level=LEVEL      debug, info, warn or error (default info)
   log_file=FILE        append the log to FILE
   fsname=NAME          source shown in /proc/mounts (default SOURCE)
   debug                log every FUSE request (and log_level=debug)

   Accepted and ignored: ro, defaults, auto, noauto, user, nouser, users, _netdev,
   nofail, dev, nodev, suid, nosuid, exec, noexec, atime options, x-* (x-systemd.*)
   and comment=. rw is an error. Any other option is an error, reported before
   anything is mounted.`
