package sync

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/bootfs/bootfs/internal/units"
	"github.com/bootfs/bootfs/region/store"
)

// BannerDiskSpace is the banner kind raised when the store is too small.
const BannerDiskSpace = "disk-space"

// ErrNoSpace is returned when the store lacks room for what must be fetched.
var ErrNoSpace = errors.New("not enough disk space")

func isNoSpace(err error) bool { return errors.Is(err, store.ErrNoSpace) }

// checkSpace compares what the downloads need with the store's free space,
// raising the disk-space banner when short.
func (s *Syncer) checkSpace(ctx context.Context, need int64) error {
	if need == 0 {
		return nil
	}
	free, err := s.cfg.Store.Free()
	if err != nil {
		return fmt.Errorf("check free space in %s: %w", s.cfg.Store.Dir(), err)
	}
	if free <= math.MaxInt64 && int64(free) >= satAdd(need, s.cfg.Reserve) {
		return nil
	}
	return s.raiseSpaceBanner(ctx, need)
}

func (s *Syncer) raiseSpaceBanner(ctx context.Context, need int64) error {
	free, _ := s.cfg.Store.Free()
	want := satAdd(need, s.cfg.Reserve)
	short := want - int64(min(free, math.MaxInt64))
	msg := fmt.Sprintf("%s needs %s more to store all resources: %s holds %s free, and the images need %s "+
		"(%d bytes, including a %s reserve); free space there or give the store a larger disk, then import again",
		s.cfg.RegionName, units.Bytes(short), s.cfg.Store.Dir(), units.Bytes(free), units.Bytes(want), want, units.Bytes(s.cfg.Reserve))
	if err := s.cfg.DB.SetBanner(ctx, s.cfg.RegionID, BannerDiskSpace, msg); err != nil {
		return fmt.Errorf("%w: %s (and raising the banner failed: %v)", ErrNoSpace, msg, err)
	}
	return fmt.Errorf("%w: %s", ErrNoSpace, msg)
}
