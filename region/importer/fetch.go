package importer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// maxStall bounds how long converge waits for other regions without any
// progress before giving up (the next import or sync tries again).
const maxStall = 15 * time.Minute

// converge fetches every blob this region lacks until it holds them all:
// from a peer region that holds a complete copy when there is one,
// otherwise from upstream after winning the blob's download claim, so each
// upstream file is downloaded once across all regions; a blob claimed by
// another region is waited for and then copied from it (or taken over when
// the claim expires because its holder died). Bootloader archives held are
// extracted. Blobs that fail verification are reported, not retried in the
// same run.
func (im *Importer) converge(ctx context.Context) error {
	failed := map[digest.Digest]error{}
	var failMu sync.Mutex // guards failed while downloads run
	var extractErr error
	lastProgress := time.Now()
	for {
		wants, err := im.cfg.DB.Wanted(ctx, im.cfg.RegionID)
		if err != nil {
			return fmt.Errorf("list wanted files: %w", err)
		}
		var todo []db.Want
		var total int64
		for _, w := range wants {
			if failed[w.SHA256] == nil {
				todo = append(todo, w)
				total += w.Size
			}
		}
		if len(todo) == 0 {
			break
		}
		im.setTotals(len(todo), total)
		if err := im.checkSpace(ctx, total); err != nil {
			return err
		}
		if err := im.cfg.DB.ClearBanner(ctx, im.cfg.RegionID, BannerDiskSpace); err != nil {
			return err
		}
		// Start at a different place on each region, so regions that import
		// together claim different files first.
		off := int(im.cfg.RegionID) * 7919 % len(todo)
		todo = append(todo[off:], todo[:off]...)

		var progressed, waiting atomic.Int64
		var nowhere []string // wants no peer holds and upstream does not serve
		var nowhereMu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(im.cfg.Parallel)
		for _, w := range todo {
			g.Go(func() error {
				ok, wait, err := im.obtain(gctx, w)
				switch {
				case err != nil:
					failMu.Lock()
					failed[w.SHA256] = err
					failMu.Unlock()
					if errors.Is(err, store.ErrNoSpace) {
						return err // stop the others: the disk is full
					}
				case ok:
					progressed.Add(1)
				case wait:
					waiting.Add(1)
				default:
					nowhereMu.Lock()
					nowhere = append(nowhere, w.Name)
					nowhereMu.Unlock()
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			_ = im.raiseSpaceBanner(ctx, total)
			return err
		}
		if err := im.extractBootloaders(ctx); err != nil {
			extractErr = err // reported at the end; the other files go on
		}
		if progressed.Load() > 0 || waiting.Load() > 0 {
			// Waiting on a live claim counts: another region is
			// downloading (and renewing) it; a dead one's claim expires.
			lastProgress = time.Now()
		}
		if progressed.Load() > 0 {
			continue
		}
		if waiting.Load() == 0 {
			if len(nowhere) > 0 {
				// Not a failure of this run (e.g. a migrated set whose
				// legacy copy was incomplete, until a source serves it),
				// but the set stays unavailable: say which files.
				slices.Sort(nowhere)
				im.log.Warn("files no region holds and no upstream source serves; their sets stay incomplete",
					"count", len(nowhere), "files", strings.Join(nowhere, ", "))
			}
			break // nothing more can be had now
		}
		if time.Since(lastProgress) > maxStall {
			return fmt.Errorf("no progress for %s", maxStall)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(im.cfg.Poll):
		}
	}
	// Archives may be held without any download in this run (a migration
	// put them on disk): extraction is idempotent, so always look.
	if err := im.extractBootloaders(ctx); err != nil {
		extractErr = err
	}
	errs := []error{extractErr}
	for _, err := range failed {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// obtain gets one blob: ok when stored now, wait when another region is
// downloading it from upstream.
func (im *Importer) obtain(ctx context.Context, w db.Want) (ok, wait bool, err error) {
	holders, err := im.cfg.DB.Holders(ctx, w.SHA256, im.cfg.RegionID)
	if err != nil {
		return false, false, err
	}
	if len(holders) > 0 {
		err := im.fromPeers(ctx, w, holders)
		if err == nil || w.SourceURL == "" || ctx.Err() != nil || errors.Is(err, store.ErrNoSpace) {
			return true, false, err
		}
		// No peer could serve it (all down?): fall back to upstream.
		im.log.Warn("no peer could provide the file; trying upstream", "sha256", w.SHA256, "name", w.Name, "err", err)
	}
	if w.SourceURL == "" {
		// Only extraction (of an archive held here or by a peer) makes it.
		return false, false, nil
	}
	won, err := im.cfg.DB.Claim(ctx, im.cfg.RegionID, w.SHA256, w.SourceURL, im.cfg.ClaimTTL)
	if err != nil || !won {
		return false, !won, err
	}
	// Renew the claim until done; losing it (this region stalled past the
	// TTL and another took over) stops the work.
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go im.renew(dctx, cancel, w)
	defer func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer rcancel()
		if err := im.cfg.DB.ReleaseClaim(rctx, im.cfg.RegionID, w.SHA256); err != nil {
			im.log.Warn("release download claim (it expires by itself)", "sha256", w.SHA256, "err", err)
		}
	}()
	// A claim is released only after its holder recorded the blob as held,
	// so look again: the previous claimer may have just finished.
	if fresh, err := im.cfg.DB.Holders(dctx, w.SHA256, im.cfg.RegionID); err != nil {
		return false, false, err
	} else if len(fresh) > len(holders) {
		if err := im.fromPeers(dctx, w, fresh); err == nil || dctx.Err() != nil {
			return true, false, err
		}
	}
	return true, false, im.fetch(dctx, im.cfg.HTTP, w, w.SourceURL, nil, im.cfg.Retries, im.cfg.Metrics)
}

// renew keeps this region's claim on w alive until ctx ends, and cancels
// the work when the claim was lost.
func (im *Importer) renew(ctx context.Context, cancel context.CancelFunc, w db.Want) {
	t := time.NewTicker(im.cfg.ClaimTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := im.cfg.DB.RenewClaim(ctx, im.cfg.RegionID, w.SHA256, im.cfg.ClaimTTL)
		switch {
		case errors.Is(err, db.ErrNotFound):
			im.log.Warn("lost download claim; another region took it over", "sha256", w.SHA256, "name", w.Name)
			cancel()
			return
		case err != nil && ctx.Err() == nil:
			im.log.Warn("renew download claim failed; it may expire and be taken over", "sha256", w.SHA256, "err", err)
		}
	}
}

// fromPeers copies a blob from regions holding a complete copy: up to 5 of
// them, live ones first in random order (spreading the load), the next one
// after a failure. A peer gets one retry: another peer or upstream is a
// better bet than waiting for one that is down.
func (im *Importer) fromPeers(ctx context.Context, w db.Want, holders []db.Region) error {
	rand.Shuffle(len(holders), func(i, j int) { holders[i], holders[j] = holders[j], holders[i] })
	now, err := im.cfg.DB.Now(ctx)
	if err != nil {
		return err
	}
	slices.SortStableFunc(holders, func(a, b db.Region) int {
		return cmp.Compare(boolInt(now.Sub(a.LastHeartbeat) > im.cfg.Alive), boolInt(now.Sub(b.LastHeartbeat) > im.cfg.Alive))
	})
	holders = holders[:min(len(holders), 5)]
	header := http.Header{"Authorization": {"Bearer " + im.cfg.Secret}}
	var errs []error
	for _, h := range holders {
		err := im.fetch(ctx, im.cfg.PeerHTTP, w, h.URL+wire.PathBlobs+w.SHA256.String(), header, 1, nil)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		im.log.Warn("copy from peer failed; trying another", "sha256", w.SHA256, "peer", h.Name, "err", err)
		errs = append(errs, fmt.Errorf("peer %s: %w", h.Name, err))
	}
	return errors.Join(errs...)
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

// fetch downloads one blob from url into the store and records it.
func (im *Importer) fetch(ctx context.Context, hc *http.Client, w db.Want, url string, header http.Header, retries int, m *Metrics) error {
	progress := im.startTransfer(wire.Transfer{SHA256: w.SHA256, Name: w.Name, From: url, Size: w.Size})
	blocks, err := Download(ctx, hc, im.cfg.Store, w.SHA256, w.Size, url, header, retries,
		func(done int64) { progress(done, false) }, m)
	if err != nil {
		progress(0, true)
		if errors.Is(err, store.ErrCorrupt) && im.cfg.Metrics != nil {
			im.cfg.Metrics.refused.Inc()
		}
		return fmt.Errorf("%s (%s): %w", w.Name, url, err)
	}
	if err := im.cfg.DB.SetBlockDigests(ctx, w.SHA256, digest.BlockSize, blocks); err != nil {
		return err
	}
	if err := im.cfg.DB.MarkHeld(ctx, im.cfg.RegionID, w.SHA256, w.Size); err != nil {
		return err
	}
	progress(w.Size, true)
	if m != nil {
		m.files.Inc()
	}
	im.log.Info("stored", "sha256", w.SHA256, "name", w.Name, "size", w.Size, "from", url)
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
