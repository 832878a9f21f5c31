package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/version"
	"github.com/bootfs/bootfs/rack"
)

func mountCommand() *cli.Command {
	return &cli.Command{
		Name:            "mount",
		Usage:           "mount the boot tree (the same as the bare form)",
		ArgsUsage:       "SOURCE MOUNTPOINT [-o OPTIONS] [-f]",
		Description:     mountHelp,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			if a := c.Args().Slice(); len(a) == 1 && (a[0] == "--help" || a[0] == "-h") {
				return cli.ShowSubcommandHelp(c)
			}
			return mountMain(c.Args().Slice())
		},
	}
}

// defaultMemoryLimit is the Go heap's soft limit: about twice what a busy
// mount keeps live (verified blocks in memory, FUSE buffers), so that the
// garbage collector returns memory before the process grows much past it.
const defaultMemoryLimit = 80 << 20

// parseMountArgs reads the mount form, mount.fuse3's calling convention:
//
//	SOURCE MOUNTPOINT [-o OPTIONS]... [-f] [-d]
//
// Flags may come anywhere. Paths are made absolute (the background process
// works from /).
func parseMountArgs(args []string) (*mountRequest, error) {
	req := &mountRequest{logLevel: slog.LevelInfo, memoryLimit: defaultMemoryLimit}
	var pos, opts []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o":
			if i+1 == len(args) {
				return nil, errors.New("-o needs a list of options")
			}
			i++
			opts = append(opts, args[i])
		case strings.HasPrefix(a, "-o"):
			opts = append(opts, a[2:])
		case a == "-f":
			req.foreground = true
		case a == "-d":
			req.foreground = true
			opts = append(opts, "debug")
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			return nil, fmt.Errorf("unknown flag %q (usage: bootfs SOURCE MOUNTPOINT [-o OPTIONS] [-f])", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		return nil, fmt.Errorf("want SOURCE and MOUNTPOINT, got %d arguments (usage: bootfs SOURCE MOUNTPOINT [-o OPTIONS] [-f])", len(pos))
	}
	regions, err := parseSource(pos[0])
	if err != nil {
		return nil, err
	}
	req.cfg.Regions = regions
	req.cfg.Mountpoint = pos[1]
	req.cfg.FsName = pos[0]
	if err := parseOptions(req, opts); err != nil {
		return nil, err
	}
	for _, p := range []*string{&req.cfg.Mountpoint, &req.cfg.CacheDir, &req.cfg.SecretFile, &req.logFile} {
		if *p == "" {
			continue
		}
		if *p, err = filepath.Abs(*p); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// mountMain runs the mount form: it checks the arguments and options, then
// serves the mount in the foreground (-f) or starts a background process
// and returns once that one reports the mount ready.
func mountMain(args []string) error {
	req, err := parseMountArgs(args)
	if err != nil {
		return err
	}
	if !req.foreground {
		return startBackground(args)
	}
	return serve(req)
}

// serve mounts and serves until a signal or an external unmount.
func serve(req *mountRequest) error {
	ready := readyPipeFromEnv()
	log, closeLog, err := newLogger(req, ready != nil)
	if err != nil {
		ready.failed(err)
		return err
	}
	defer closeLog()
	if ready != nil {
		// Hold no directory of any file system: paths are absolute.
		_ = os.Chdir("/")
	}
	req.cfg.Log = log
	log.Info("bootfs starting", "version", version.String(), "mountpoint", req.cfg.Mountpoint)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(req.memoryLimit)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	m, err := rack.Start(ctx, req.cfg)
	if err != nil {
		ready.failed(err)
		return err
	}
	ready.ready()
	sdNotify(log, "READY=1")

	select {
	case <-ctx.Done():
		log.Info("signal received, unmounting", "mountpoint", m.Mountpoint())
	case <-m.Done():
		log.Info("unmounted", "mountpoint", m.Mountpoint())
	}
	stop()
	sdNotify(log, "STOPPING=1")
	err = m.Close()
	if errors.Is(err, rack.ErrBusy) {
		// Detached: gone from the namespace, which is what was asked.
		log.Warn("exiting with the mount still busy", "err", err)
		return nil
	}
	return err
}
