package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
)

// fromPeers copies a blob from regions holding a complete copy: up to 5 of
// them, live ones first in random order (spreading the load), the next one
// after a failure. A peer gets one retry: another peer or upstream is a
// better bet than waiting for one that is down.
func (s *Syncer) fromPeers(ctx context.Context, w db.Want, holders []db.Region) error {
	rand.Shuffle(len(holders), func(i, j int) { holders[i], holders[j] = holders[j], holders[i] })
	now, err := s.cfg.DB.Now(ctx)
	if err != nil {
		return err
	}
	slices.SortStableFunc(holders, func(a, b db.Region) int {
		return cmp.Compare(boolInt(now.Sub(a.LastHeartbeat) > s.cfg.Alive), boolInt(now.Sub(b.LastHeartbeat) > s.cfg.Alive))
	})
	holders = holders[:min(len(holders), 5)]
	header := http.Header{"Authorization": {"Bearer " + s.cfg.Secret}}
	var errs []error
	for _, h := range holders {
		err := s.fetch(ctx, s.cfg.PeerHTTP, w, h.URL+wire.PathBlobs+w.SHA256.String(), header, 1, s.cfg.Metrics.peers(), s.log)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		s.log.Warn("copy from peer failed; trying another", "sha256", w.SHA256, "peer", h.Name, "err", err)
		errs = append(errs, fmt.Errorf("peer %s: %w", h.Name, err))
	}
	return errors.Join(errs...)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
