package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// BannerDiskSpace is the banner kind raised when the store is too small.
const BannerDiskSpace = "disk-space"

// ErrNoSpace is returned when the store lacks room for what must be fetched.
var ErrNoSpace = errors.New("not enough disk space")

// fetchAll downloads every blob this region lacks that upstream serves,
// then extracts bootloader archives.
func (im *Importer) fetchAll(ctx context.Context) error {
	wants, err := im.cfg.DB.Wanted(ctx, im.cfg.RegionID)
	if err != nil {
		return fmt.Errorf("list wanted files: %w", err)
	}
	var todo []db.Want
	var total int64
	for _, w := range wants {
		if w.SourceURL != "" {
			todo = append(todo, w)
			total += w.Size
		}
	}
	im.setTotals(len(todo), total)
	if err := im.checkSpace(ctx, total); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(im.cfg.Parallel)
	errs := make([]error, len(todo))
	for i, w := range todo {
		g.Go(func() error {
			errs[i] = im.fetchOne(gctx, w)
			if errors.Is(errs[i], store.ErrNoSpace) {
				return errs[i] // stop the others: the disk is full
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		_ = im.raiseSpaceBanner(ctx, total)
		return err
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := im.extractBootloaders(ctx); err != nil {
		return err
	}
	return im.cfg.DB.ClearBanner(ctx, im.cfg.RegionID, BannerDiskSpace)
}

// checkSpace compares what the downloads need with the store's free space,
// raising the disk-space banner when short.
func (im *Importer) checkSpace(ctx context.Context, need int64) error {
	if need == 0 {
		return nil
	}
	free, err := im.cfg.Store.Free()
	if err != nil {
		return fmt.Errorf("check free space in %s: %w", im.cfg.Store.Dir(), err)
	}
	if int64(free) >= need+im.cfg.Reserve {
		return nil
	}
	return im.raiseSpaceBanner(ctx, need)
}

func (im *Importer) raiseSpaceBanner(ctx context.Context, need int64) error {
	free, _ := im.cfg.Store.Free()
	short := need + im.cfg.Reserve - int64(free)
	msg := fmt.Sprintf("%s needs %d more bytes to store all resources (directory %s: %d bytes needed including a %d byte reserve, %d available)",
		im.cfg.RegionName, short, im.cfg.Store.Dir(), need+im.cfg.Reserve, im.cfg.Reserve, free)
	if err := im.cfg.DB.SetBanner(ctx, im.cfg.RegionID, BannerDiskSpace, msg); err != nil {
		return fmt.Errorf("%w: %s (and raising the banner failed: %v)", ErrNoSpace, msg, err)
	}
	return fmt.Errorf("%w: %s", ErrNoSpace, msg)
}

// fetchOne downloads one blob from upstream into the store and records it.
// An interrupted transfer is resumed from where it stopped; bytes that do
// not match the metadata are refused and the item named.
func (im *Importer) fetchOne(ctx context.Context, w db.Want) error {
	progress := im.startTransfer(wire.Transfer{SHA256: w.SHA256, Name: w.Name, From: w.SourceURL, Size: w.Size})
	blocks, err := Download(ctx, im.cfg.HTTP, im.cfg.Store, w.SHA256, w.Size, w.SourceURL, nil, im.cfg.Retries,
		func(done int64) { progress(done, false) }, im.cfg.Metrics)
	if err != nil {
		if errors.Is(err, store.ErrCorrupt) && im.cfg.Metrics != nil {
			im.cfg.Metrics.refused.Inc()
		}
		return fmt.Errorf("%s (%s): %w", w.Name, w.SourceURL, err)
	}
	if err := im.cfg.DB.SetBlockDigests(ctx, w.SHA256, digest.BlockSize, blocks); err != nil {
		return err
	}
	if err := im.cfg.DB.MarkHeld(ctx, im.cfg.RegionID, w.SHA256, w.Size); err != nil {
		return err
	}
	progress(w.Size, true)
	if m := im.cfg.Metrics; m != nil {
		m.files.Inc()
	}
	im.log.Info("stored", "sha256", w.SHA256, "name", w.Name, "size", w.Size)
	return nil
}

// Download fetches url into the store as blob d of size bytes, resuming a
// partial file with Range and retrying interrupted transfers. header, if
// set, decorates each request (peer sync adds the shared secret). It
// returns the block digests computed on the way in.
func Download(ctx context.Context, hc *http.Client, st *store.Disk, d digest.Digest, size int64, url string,
	header http.Header, retries int, progress func(done int64), m *Metrics) ([]digest.Digest, error) {
	var lastErr error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(backoff(attempt)):
			}
			if m != nil {
				m.resumes.Inc()
			}
		}
		blocks, retry, err := downloadOnce(ctx, hc, st, d, size, url, header, progress, m)
		if err == nil {
			return blocks, nil
		}
		if !retry || ctx.Err() != nil {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("gave up after %d attempts: %w", retries+1, lastErr)
}

func backoff(attempt int) time.Duration {
	d := time.Duration(1<<min(attempt, 6)) * 250 * time.Millisecond
	return min(d, 15*time.Second)
}

// downloadOnce makes one request. retry reports whether the failure was a
// transfer problem worth resuming (not a verification failure).
func downloadOnce(ctx context.Context, hc *http.Client, st *store.Disk, d digest.Digest, size int64, url string,
	header http.Header, progress func(int64), m *Metrics) (blocks []digest.Digest, retry bool, err error) {
	p, err := st.Begin(d, size)
	if err != nil {
		return nil, errors.Is(err, store.ErrBusy), err
	}
	committed := false
	defer func() {
		if !committed {
			_ = p.Abort() // keep what we have: the next attempt resumes from it
		}
	}()
	off := p.Offset()
	if off < size {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, false, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if off > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, true, err
		}
		defer resp.Body.Close()
		switch {
		case off > 0 && resp.StatusCode == http.StatusOK:
			// The server ignored Range: start again from byte 0.
			if err := p.Discard(); err != nil {
				return nil, true, err
			}
			committed = true // nothing left to abort
			return nil, true, fmt.Errorf("server ignored Range; restarting")
		case off > 0 && resp.StatusCode != http.StatusPartialContent:
			return nil, resp.StatusCode >= 500, fmt.Errorf("GET %s (from byte %d): %s", url, off, resp.Status)
		case off == 0 && resp.StatusCode != http.StatusOK:
			return nil, resp.StatusCode >= 500 || resp.StatusCode == 429, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		buf := make([]byte, 1<<20)
		done := off
		for {
			n, rerr := resp.Body.Read(buf)
			if n > 0 {
				if _, err := p.Write(buf[:n]); err != nil {
					return nil, !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, store.ErrNoSpace), err
				}
				done += int64(n)
				if m != nil {
					m.bytes.Add(float64(n))
				}
				if progress != nil {
					progress(done)
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return nil, true, fmt.Errorf("GET %s: after %d of %d bytes: %w", url, done, size, rerr)
			}
		}
		if done < size {
			return nil, true, fmt.Errorf("GET %s: body ended after %d of %d bytes", url, done, size)
		}
	}
	committed = true
	blocks, err = p.Commit()
	if err != nil {
		return nil, false, err
	}
	return blocks, false, nil
}
