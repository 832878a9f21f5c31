package upload

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// Start begins an upload as declared, or resumes the one under way on
// this region with the same name, architecture, sha256 and size. If the
// newest version of the resource already has these bytes (the upload
// finished, its client just did not hear), it answers Done at once.
func (m *Manager) Start(ctx context.Context, in wire.UploadStart) (wire.Upload, error) {
	row, err := m.check(ctx, in)
	if err != nil {
		return wire.Upload{}, err
	}
	filename, _ := Filename(row.Filetype)
	ver, sha, err := m.cfg.DB.NewestUploaded(ctx, row.Name, row.Architecture, filename)
	if err != nil {
		return wire.Upload{}, err
	}
	if sha == row.SHA256 {
		row.Done, row.Version = true, ver
		return m.state(row, row.Size), nil
	}
	if u, ok, err := m.startHeld(ctx, row); ok || err != nil {
		return u, err
	}
	found, err := m.cfg.DB.FindUpload(ctx, m.cfg.RegionID, row.Name, row.Architecture, row.SHA256, row.Size)
	switch {
	case err == nil:
		row = found
	case errors.Is(err, db.ErrNotFound):
		row.ID = newID()
		if err := m.cfg.DB.CreateUpload(ctx, row); err != nil {
			return wire.Upload{}, err
		}
		m.cfg.Log.Info("upload started", "upload", row.ID, "name", row.Name, "architecture", row.Architecture,
			"sha256", row.SHA256, "size", row.Size)
	default:
		return wire.Upload{}, err
	}
	s, err := m.session(ctx, row.ID)
	if err != nil {
		return wire.Upload{}, err
	}
	defer s.mu.Unlock()
	if s.p == nil { // done meanwhile
		return m.sessionState(s), nil
	}
	if err := m.checkSpace(s.row.Size - s.p.Offset()); err != nil {
		m.m.finished("refused")
		m.end(s, true)
		_ = m.cfg.DB.DeleteUpload(ctx, s.row.ID)
		return wire.Upload{}, err
	}
	if s.p.Offset() == s.row.Size {
		return m.finish(ctx, s)
	}
	return m.sessionState(s), nil
}

// startHeld records the upload at once, nothing to send, when this region
// already holds its bytes (another resource has the same file); ok is
// false when it does not.
func (m *Manager) startHeld(ctx context.Context, row db.Upload) (u wire.Upload, ok bool, err error) {
	err = m.cfg.Lock.Exclusive(func() error { // cleanup cannot delete the file meanwhile
		held, err := m.cfg.DB.HoldsVerified(ctx, m.cfg.RegionID, row.SHA256)
		if err != nil || !held {
			return err
		}
		if size, err := m.cfg.Store.Stat(row.SHA256); err != nil || size != row.Size {
			return nil // not as recorded: the bytes are sent again
		}
		m.finishMu.Lock()
		defer m.finishMu.Unlock()
		row.ID = newID()
		if err := m.cfg.DB.CreateUpload(ctx, row); err != nil {
			return err
		}
		ok = true
		u, err = m.record(context.WithoutCancel(ctx), row, nil)
		return err
	})
	return u, ok, err
}

// check validates and normalises a declaration into an upload row.
func (m *Manager) check(ctx context.Context, in wire.UploadStart) (db.Upload, error) {
	row := db.Upload{RegionID: m.cfg.RegionID, Filetype: in.Filetype, Title: in.Title, BaseImage: in.BaseImage,
		SHA256: in.SHA256, Size: in.Size}
	var err error
	if row.Name, err = Name(in.Name); err != nil {
		return row, err
	}
	if row.Architecture, err = Architecture(in.Architecture); err != nil {
		return row, err
	}
	if row.Filetype == "" {
		row.Filetype = DefaultFiletype
	}
	if _, err := Filename(row.Filetype); err != nil {
		return row, err
	}
	if err := BaseImage(in.BaseImage); err != nil {
		return row, err
	}
	if in.SHA256.IsZero() {
		return row, fmt.Errorf("%w: no sha256 given: send the file's sha256 (sha256sum FILE)", ErrInvalid)
	}
	if in.Size <= 0 {
		return row, fmt.Errorf("%w: size %d: send the file's size in bytes (an empty file is no image)", ErrInvalid, in.Size)
	}
	rtype, exists, err := m.cfg.DB.ResourceType(ctx, row.Name, row.Architecture)
	if err != nil {
		return row, err
	}
	if exists && rtype != db.RTypeUploaded {
		return row, fmt.Errorf("%w: %s %s is an imported resource, not an uploaded one: upload under another name (e.g. custom/NAME)",
			ErrConflict, row.Name, row.Architecture)
	}
	return row, nil
}

// Get returns the state of upload id.
func (m *Manager) Get(ctx context.Context, id string) (wire.Upload, error) {
	s, err := m.session(ctx, id)
	if err != nil {
		return wire.Upload{}, err
	}
	defer s.mu.Unlock()
	return m.sessionState(s), nil
}

// Abandon ends upload id and removes its bytes (a done upload's resource
// stays: `images delete` removes that).
func (m *Manager) Abandon(ctx context.Context, id string) error {
	s, err := m.session(ctx, id)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if s.p != nil {
		m.end(s, true)
		m.cfg.Log.Info("upload abandoned", "upload", id, "name", s.row.Name)
	}
	if s.row.Done {
		return nil
	}
	return m.cfg.DB.DeleteUpload(ctx, id)
}

// checkSpace refuses an upload that needs more than the store has free
// (less the reserve).
func (m *Manager) checkSpace(need int64) error {
	free, err := m.cfg.Store.Free()
	if err != nil {
		return err
	}
	want := need + m.cfg.Reserve
	if free <= math.MaxInt64 && int64(free) < want {
		return fmt.Errorf("%w on region %s: the upload needs %d more bytes plus a %d byte reserve, and %s has %d bytes free; "+
			"nothing was stored: free space there (or grow the filesystem) and run the same command again",
			ErrNoSpace, m.cfg.RegionName, need, m.cfg.Reserve, m.cfg.Store.Dir(), free)
	}
	return nil
}

func (m *Manager) storeErr(err error) error {
	if errors.Is(err, store.ErrNoSpace) {
		return fmt.Errorf("%w on region %s: %w; nothing was stored: free space there (or grow the filesystem) and upload again",
			ErrNoSpace, m.cfg.RegionName, err)
	}
	return err
}
