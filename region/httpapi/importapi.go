package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
)

// stopImport stops the running import on every region (POST
// wire.PathImportStop, `bootfs-region import --stop`): the stop is recorded
// in PostgreSQL, which tells every region; this region's run ends at once.
// It answers 202 with this region's import status as it is right after.
// Downloads in flight abort and keep their partial files; the next import
// (POST wire.PathImport) withdraws the stop and resumes them.
func (s *Server) stopImport(w http.ResponseWriter, r *http.Request) {
	if s.d.StopImport == nil {
		http.Error(w, "this region cannot stop imports", http.StatusNotImplemented)
		return
	}
	if err := s.d.StopImport(r.Context()); err != nil {
		s.internal(w, "stop import", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(s.d.ImportStatus())
}

// importHistory lists every region's imports and syncs, newest first.
func (s *Server) importHistory(ctx context.Context) ([]wire.ImportRecord, error) {
	runs, err := s.d.DB.ImportRuns(ctx, 0)
	if err != nil {
		return nil, err
	}
	out := make([]wire.ImportRecord, 0, len(runs))
	for _, run := range runs {
		rec := wire.ImportRecord{Region: run.Region, Kind: run.Kind, Started: run.Started, Outcome: run.Outcome,
			Error: run.Error, Bytes: run.Bytes, Files: run.Files}
		if !run.Finished.IsZero() {
			fin := run.Finished
			rec.Finished = &fin
		}
		out = append(out, rec)
	}
	return out, nil
}

// importStopped returns when an operator stopped imports, nil when not.
func (s *Server) importStopped(ctx context.Context) (*time.Time, error) {
	st, ok, err := s.d.DB.PendingImportStop(ctx)
	if err != nil || !ok {
		return nil, err
	}
	return &st.Requested, nil
}

// liveHistory fills in the bytes and files of this region's running run
// (the history records them when it ends) from its live progress.
func liveHistory(hist []wire.ImportRecord, region string, live wire.ImportStatus) {
	if live.State != "running" {
		return
	}
	for i := range hist {
		if h := &hist[i]; h.Region == region && h.Outcome == "running" && h.Kind == live.Kind {
			h.Bytes, h.Files = live.BytesDone, live.FilesDone
			return
		}
	}
}
