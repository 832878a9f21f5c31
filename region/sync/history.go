package sync

import (
	"context"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
)

// beginHistory records the start of a run in the import history and
// returns its row id (0 when it could not be recorded: the run goes on,
// the history just misses it).
func (s *Syncer) beginHistory(ctx context.Context, kind string) int64 {
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	id, err := s.cfg.DB.BeginRun(hctx, s.cfg.RegionID, kind)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("import history: could not record the start of a run", "kind", kind, "err", err)
	}
	return id
}

// endHistory records how run id ended, from the tracker's final status. It
// writes even when ctx was cancelled (a stopped run is recorded stopped).
func (s *Syncer) endHistory(ctx context.Context, id int64, st wire.ImportStatus) {
	if id == 0 {
		return
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	outcome := st.State
	if outcome != db.OutcomeDone && outcome != db.OutcomeStopped {
		outcome = db.OutcomeFailed
	}
	if err := s.cfg.DB.EndRun(hctx, id, outcome, st.Error, st.BytesDone, st.FilesDone); err != nil {
		s.log.Warn("import history: could not record the end of a run", "kind", st.Kind, "outcome", outcome, "err", err)
	}
}
