package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/internal/units"
	"github.com/bootfs/bootfs/region/devmirror"
)

func devMirrorCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev-mirror",
		Usage: "write a signed simplestreams mirror with synthetic images, for demos and tests",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Required: true, Usage: "directory to write"},
			&cli.Float64Flag{Name: "scale", Value: 1, Usage: "multiply realistic file sizes (kernel ~14 MiB, initrd ~75 MiB, squashfs ~900 MiB) by this"},
			&cli.StringFlag{Name: "version", Usage: "version name of the images (default 20250101)"},
			&cli.StringSliceFlag{Name: "release", Usage: "Ubuntu releases to generate, repeatable (default jammy, noble)"},
			&cli.StringFlag{Name: "kernel", Usage: "use this real kernel file instead of synthetic bytes"},
			&cli.StringFlag{Name: "initrd", Usage: "use this real initrd file instead of synthetic bytes"},
			&cli.StringFlag{Name: "serve", Usage: "after writing, serve the mirror over HTTP on this address (e.g. 127.0.0.1:8000) until interrupted"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			log, err := newLogger(c.String("log-level"), "text")
			if err != nil {
				return err
			}
			res, err := devmirror.Generate(c.Context, devmirror.Options{
				Out: c.String("out"), Scale: c.Float64("scale"), Version: c.String("version"),
				Releases: c.StringSlice("release"), Kernel: c.String("kernel"), Initrd: c.String("initrd"), Log: log,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "mirror written to %s: %d files, %s; keyring %s\n",
				res.Root, res.Files, units.Bytes(res.Bytes), res.KeyringPath)
			addr := c.String("serve")
			if addr == "" {
				return nil
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv := &http.Server{Addr: addr, Handler: http.FileServer(http.Dir(res.Root)), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-ctx.Done()
				shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(shut)
			}()
			fmt.Fprintf(c.App.Writer, "serving the mirror at http://%s/\n", addr)
			if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
}
