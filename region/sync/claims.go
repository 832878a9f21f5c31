package sync

import (
	"context"
	"errors"
	"time"

	"github.com/bootfs/bootfs/region/db"
)

// obtain gets one blob: ok when stored now, wait when another region is
// downloading it from upstream. Upstream downloads go through the blob's
// claim (db.Claim): the one region that wins it downloads, renewing the
// claim until done; the others wait and then copy from it.
func (s *Syncer) obtain(ctx context.Context, w db.Want) (ok, wait bool, err error) {
	holders, err := s.cfg.DB.Holders(ctx, w.SHA256, s.cfg.RegionID)
	if err != nil {
		return false, false, err
	}
	if len(holders) > 0 {
		err := s.fromPeers(ctx, w, holders)
		if err == nil || w.SourceURL == "" || ctx.Err() != nil || isNoSpace(err) {
			return true, false, err
		}
		// No peer could serve it (all down?): fall back to upstream.
		s.log.Warn("no peer could provide the file; trying upstream", "sha256", w.SHA256, "name", w.Name, "err", err)
	}
	if w.SourceURL == "" {
		// Only extraction (of an archive held here or by a peer) makes it.
		return false, false, nil
	}
	won, err := s.cfg.DB.Claim(ctx, s.cfg.RegionID, w.SHA256, w.SourceURL, s.cfg.ClaimTTL)
	if err != nil || !won {
		return false, !won, err
	}
	// Renew the claim until done; losing it (this region stalled past the
	// TTL and another took over) stops the work.
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.renew(dctx, cancel, w)
	defer func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer rcancel()
		if err := s.cfg.DB.ReleaseClaim(rctx, s.cfg.RegionID, w.SHA256); err != nil {
			s.log.Warn("release download claim (it expires by itself)", "sha256", w.SHA256, "err", err)
		}
	}()
	// A claim is released only after its holder recorded the blob as held,
	// so look again: the previous claimer may have just finished.
	if fresh, err := s.cfg.DB.Holders(dctx, w.SHA256, s.cfg.RegionID); err != nil {
		return false, false, err
	} else if len(fresh) > len(holders) {
		if err := s.fromPeers(dctx, w, fresh); err == nil || dctx.Err() != nil {
			return true, false, err
		}
	}
	return true, false, s.fetch(dctx, s.cfg.HTTP, w, w.SourceURL, nil, s.cfg.Retries, s.cfg.Metrics, s.upLog)
}

// renew keeps this region's claim on w alive until ctx ends, and cancels
// the work when the claim was lost.
func (s *Syncer) renew(ctx context.Context, cancel context.CancelFunc, w db.Want) {
	t := time.NewTicker(s.cfg.ClaimTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.cfg.DB.RenewClaim(ctx, s.cfg.RegionID, w.SHA256, s.cfg.ClaimTTL)
		switch {
		case errors.Is(err, db.ErrNotFound):
			s.log.Warn("lost download claim; another region took it over", "sha256", w.SHA256, "name", w.Name)
			cancel()
			return
		case err != nil && ctx.Err() == nil:
			s.log.Warn("renew download claim failed; it may expire and be taken over", "sha256", w.SHA256, "err", err)
		}
	}
}
