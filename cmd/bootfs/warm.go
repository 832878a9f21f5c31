package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

func warmCommand() *cli.Command {
	return &cli.Command{
		Name:      "warm",
		Usage:     "read files through a mount so that their blocks are in its cache",
		ArgsUsage: "MOUNTPOINT PATH...",
		Description: "Reads every file named (directories: every file below them) through the bootfs\n" +
			"mount at MOUNTPOINT, so that each block is fetched from a region, verified and\n" +
			"cached before machines ask for it, e.g. ahead of a wave of deployments. PATHs\n" +
			"are relative to MOUNTPOINT (or absolute, inside it). Shows a progress bar on a\n" +
			"terminal, one line per file otherwise.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 2, Usage: "files read at the same time"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return errors.New("bootfs warm needs a mount point and at least one path: bootfs warm MOUNTPOINT PATH [PATH ...]")
			}
			return warm(c.App.ErrWriter, c.Args().First(), c.Args().Tail(), max(c.Int("jobs"), 1))
		},
	}
}

// warmFile is one file to read.
type warmFile struct {
	path string
	size int64
}

func warm(out io.Writer, mp string, paths []string, jobs int) error {
	before, err := statusOf(mp)
	if err != nil {
		return err
	}
	files, total, err := collectFiles(mp, paths)
	if err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		// progressbar.DefaultBytes with binary units (MiB, as everywhere).
		bar = progressbar.NewOptions64(total, progressbar.OptionSetDescription(fmt.Sprintf("warming %d files", len(files))),
			progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowBytes(true), progressbar.OptionUseIECUnits(true),
			progressbar.OptionShowTotalBytes(true), progressbar.OptionSetWidth(10), progressbar.OptionThrottle(65*time.Millisecond),
			progressbar.OptionShowCount(), progressbar.OptionOnCompletion(func() { fmt.Fprint(os.Stderr, "\n") }),
			progressbar.OptionSpinnerType(14), progressbar.OptionFullWidth(), progressbar.OptionSetRenderBlankState(true))
	}
	start := time.Now()
	work := make(chan warmFile)
	var (
		mu   sync.Mutex // guards errs and writes to out
		errs []error
		wg   sync.WaitGroup
	)
	for range min(jobs, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				t := time.Now()
				err := readThrough(f.path, bar)
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err)
					if bar == nil {
						fmt.Fprintf(out, "failed %s: %v\n", f.path, err)
					}
				case bar == nil:
					fmt.Fprintf(out, "warmed %s: %s in %s\n", f.path, bytesStr(f.size), time.Since(t).Round(time.Millisecond))
				}
				mu.Unlock()
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
	}
	if after, err := statusOf(mp); err == nil {
		fmt.Fprintf(out, "warmed %d files, %s in %s: fetched %s from regions; cache holds %s of %s\n",
			len(files)-len(errs), bytesStr(total), time.Since(start).Round(time.Millisecond),
			bytesStr(after.Reads.BytesFetched-before.Reads.BytesFetched),
			bytesStr(after.Cache.Used), bytesStr(after.Cache.Limit))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d files could not be read: %w", len(errs), len(files), errors.Join(errs...))
	}
	return nil
}

// collectFiles resolves paths against mp and lists the regular files they
// name, directories walked.
func collectFiles(mp string, paths []string) ([]warmFile, int64, error) {
	root, err := filepath.Abs(mp)
	if err != nil {
		return nil, 0, err
	}
	seen := make(map[string]bool)
	var files []warmFile
	var total int64
	add := func(p string, size int64) {
		if !seen[p] {
			seen[p] = true
			files = append(files, warmFile{path: p, size: size})
			total += size
		}
	}
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		p = filepath.Clean(p)
		if rel, err := filepath.Rel(root, p); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, 0, fmt.Errorf("%s is not inside the mount %s", p, root)
		}
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			add(path, fi.Size())
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return files, total, nil
}

// readThrough reads the whole file through the mount. The kernel's cached
// pages of it are dropped first, so that every block is asked of bootfs
// (and so of its cache or a region) rather than served from memory.
func readThrough(path string, bar *progressbar.ProgressBar) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED) // advisory only
	var w io.Writer = io.Discard
	if bar != nil {
		w = io.MultiWriter(io.Discard, bar)
	}
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(w, struct{ io.Reader }{f}, buf); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
