package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// fetch downloads one blob from url into the store and records it,
// counting in m and logging to log (upstream downloads and peer copies
// each have their own).
func (s *Syncer) fetch(ctx context.Context, hc *http.Client, w db.Want, url string, header http.Header, retries int, m *Metrics, log *slog.Logger) error {
	progress := s.tracker.startTransfer(wire.Transfer{SHA256: w.SHA256, Name: w.Name, From: url, Size: w.Size})
	blocks, err := Download(ctx, hc, s.cfg.Store, w.SHA256, w.Size, url, header, retries,
		func(done int64) { progress(done, false) }, m)
	if err != nil {
		progress(0, true)
		if errors.Is(err, store.ErrCorrupt) {
			m.refused()
		}
		return fmt.Errorf("%s (%s): %w", w.Name, url, err)
	}
	if err := s.cfg.DB.SetBlockDigests(ctx, w.SHA256, digest.BlockSize, blocks); err != nil {
		return err
	}
	if err := s.cfg.DB.MarkHeld(ctx, s.cfg.RegionID, w.SHA256, w.Size); err != nil {
		return err
	}
	progress(w.Size, true)
	if m != nil {
		m.Files.Inc()
	}
	log.Info("stored", "sha256", w.SHA256, "name", w.Name, "size", w.Size, "from", url)
	return nil
}
