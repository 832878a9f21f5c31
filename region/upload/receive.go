package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// Write appends body (at most MaxChunk bytes are read) at off, which must
// be the bytes received so far (ErrOffset otherwise, with the state). When
// the last byte arrives the upload is verified and recorded (Done).
func (m *Manager) Write(ctx context.Context, id string, off int64, body io.Reader) (wire.Upload, error) {
	s, err := m.session(ctx, id)
	if err != nil {
		return wire.Upload{}, err
	}
	defer s.mu.Unlock()
	if s.p == nil {
		return m.sessionState(s), nil
	}
	if off != s.p.Offset() {
		return m.sessionState(s), fmt.Errorf("%w: %d bytes of upload %s arrived, a chunk at %d was sent: send from %d",
			ErrOffset, s.p.Offset(), id, off, s.p.Offset())
	}
	// One byte beyond the declared size is read so that an excess is
	// caught (Write refuses it and drops the partial).
	n, err := s.p.ReadFromContext(ctx, io.LimitReader(body, min(MaxChunk, s.row.Size-off+1)))
	s.used = time.Now()
	m.m.received(n)
	if err != nil {
		if errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrNoSpace) {
			s.p = nil // Write ended the Pending and removed the partial
			m.end(s, true)
			_ = m.cfg.DB.DeleteUpload(context.WithoutCancel(ctx), id)
			m.m.finished("refused")
			if errors.Is(err, store.ErrCorrupt) {
				m.cfg.Log.Warn("upload refused: more bytes than declared", "upload", id, "name", s.row.Name, "size", s.row.Size)
				return wire.Upload{}, fmt.Errorf("%w: size mismatch: more than the %d bytes declared were sent; nothing was stored: "+
					"declare the file's real size (stat -c %%s FILE) and upload it again", ErrCorrupt, s.row.Size)
			}
			return wire.Upload{}, m.storeErr(err)
		}
		// The client went away mid-chunk: what arrived stays.
		return m.sessionState(s), fmt.Errorf("receiving upload %s: %w", id, err)
	}
	if s.p.Offset() < s.row.Size {
		return m.sessionState(s), nil
	}
	return m.finish(ctx, s)
}

// finish commits the complete partial file (checking its sha256) and
// records the resource, under the store lock. The caller holds s.mu.
func (m *Manager) finish(ctx context.Context, s *session) (wire.Upload, error) {
	ctx = context.WithoutCancel(ctx) // a client leaving now must not half-record it
	m.finishMu.Lock()
	defer m.finishMu.Unlock()
	var out wire.Upload
	err := m.cfg.Lock.Exclusive(func() error {
		p := s.p
		s.p = nil
		blocks, err := p.Commit()
		if err != nil {
			m.end(s, true)
			if errors.Is(err, store.ErrCorrupt) {
				m.m.finished("refused")
				_ = m.cfg.DB.DeleteUpload(ctx, s.row.ID)
				m.cfg.Log.Warn("upload refused: wrong bytes", "upload", s.row.ID, "name", s.row.Name, "err", err)
				return fmt.Errorf("%w: wrong bytes: %s (the file changed, or is not the one whose sha256 was given); nothing was stored: "+
					"check the file and its sha256 and upload it again", ErrCorrupt, err)
			}
			return m.storeErr(err)
		}
		m.end(s, false)
		var err2 error
		out, err2 = m.record(ctx, s.row, blocks)
		if err2 == nil {
			s.row.Done, s.row.Version = true, out.Version
		}
		return err2
	})
	return out, err
}

// record records upload row, whose bytes are stored, as the next version
// of its resource, with the block digests of its file (nil: recorded
// already). The caller holds the store lock.
func (m *Manager) record(ctx context.Context, row db.Upload, blocks []digest.Digest) (wire.Upload, error) {
	var version string
	err := m.cfg.DB.WithUploadLock(ctx, func() error {
		var err error
		if version, err = m.cfg.DB.NextUploadVersion(ctx, row.Name, row.Architecture, time.Now()); err != nil {
			return err
		}
		filename, _ := Filename(row.Filetype)
		_, err = m.cfg.DB.RecordSet(ctx, db.SetRecord{
			Name: row.Name, Architecture: row.Architecture, RType: db.RTypeUploaded,
			Version: version, Label: db.LabelUploaded,
			Files: []db.FileRecord{{Filename: filename, Filetype: filename, SHA256: row.SHA256, Size: row.Size}},
		})
		return err
	})
	if err != nil {
		return wire.Upload{}, err
	}
	if blocks != nil {
		if err := m.cfg.DB.SetBlockDigests(ctx, row.SHA256, digest.BlockSize, blocks); err != nil {
			return wire.Upload{}, err
		}
	}
	if err := m.cfg.DB.MarkHeld(ctx, m.cfg.RegionID, row.SHA256, row.Size); err != nil {
		return wire.Upload{}, err
	}
	if err := m.cfg.DB.FinishUpload(ctx, row, version); err != nil {
		return wire.Upload{}, err
	}
	row.Done, row.Version = true, version
	m.m.finished("stored")
	m.cfg.Log.Info("upload stored", "upload", row.ID, "name", row.Name, "architecture", row.Architecture,
		"version", version, "sha256", row.SHA256, "size", row.Size)
	return m.state(row, row.Size), nil
}
