// Package upload receives custom images (`bootfs-region images upload`,
// the console's upload form) into the region and records them as uploaded
// resources, and holds the client side of the protocol.
//
// # Protocol (internal/wire: PathUploads)
//
// The client first declares the image: name, architecture, filetype and
// the file's sha256 and size (as MAAS requires). The region answers with
// an upload id and how many bytes it already has (Received). The client
// then PUTs the rest in chunks of at most MaxChunk bytes at offset
// Received. When the last byte arrives the region checks the sha256 and
// records the resource; wrong bytes or more bytes than declared are
// refused and nothing is stored.
//
// # Where the bytes go
//
// Into the store's one verifying write path: store.Begin for the declared
// sha256 and size, Write per chunk, Commit at the end (which checks size
// and sha256 before the file gets its final name). Until then the bytes
// are a partial file (Dir/.partial/<sha256>), visible nowhere. A killed
// client or a killed region leaves that file; the same declaration later
// finds the upload row (boot_upload) and store.Begin re-hashes the partial
// and reports its length, so the client continues from there without
// re-sending what arrived.
//
// # Recording
//
// The commit and the recording run under the region's store lock (the
// one imports, peer syncs and cleanup take), so cleanup never sees a
// committed file the database does not know yet. The set is recorded as
// version YYYYMMDD[.N] of resource os/release, arch/subarch, rtype 2
// (uploaded), label "uploaded", one file named by filetype as MAAS names
// it (root-tgz, root-dd.raw ...). From there it is a set like any other:
// peer regions copy it, and the tree offers it once every region holds it
// (the previous version stays offered until then, and goes after the
// cleanup grace).
package upload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/store"
)

// MaxChunk is the most bytes one PUT may carry.
const MaxChunk = 64 << 20

// Errors of the Manager; the HTTP API maps them to status codes.
var (
	// ErrNotFound: no upload with that id.
	ErrNotFound = errors.New("no such upload")
	// ErrOffset: a chunk was sent at an offset other than Received.
	ErrOffset = errors.New("wrong offset")
	// ErrConflict: the upload cannot go on as declared (the name is an
	// imported resource, or the same bytes are being received by another
	// upload).
	ErrConflict = errors.New("upload conflict")
	// ErrCorrupt: the bytes do not match the declared sha256 or size.
	ErrCorrupt = errors.New("upload refused")
	// ErrNoSpace: the store has too little room.
	ErrNoSpace = errors.New("not enough disk space")
)

// Lock is the region's store lock (region/sync.Lock).
type Lock interface {
	Exclusive(fn func() error) error
}

// Config is what a Manager needs. Zero values get the defaults noted.
type Config struct {
	DB         *db.DB
	Store      *store.Disk
	RegionID   int64
	RegionName string
	Lock       Lock
	// Reserve is free space kept beyond an upload's bytes (default 100 MiB;
	// negative: none).
	Reserve int64
	// Idle is how long an upload nobody writes to keeps its partial file
	// open (default 10m); the file stays for a resume either way.
	Idle time.Duration
	Log  *slog.Logger // nil: discard
	// Metrics, if set, gets the upload metrics.
	Metrics prometheus.Registerer
}

// Manager receives uploads on one region. It is safe for concurrent use.
type Manager struct {
	cfg Config
	m   *metrics
	// mu guards open.
	mu   sync.Mutex
	open map[string]*session
	// finishMu serialises recording on this region (db.WithUploadLock
	// across regions), so two uploads of one resource get distinct versions.
	finishMu sync.Mutex
}

// session is an upload with its partial file open.
type session struct {
	// mu guards p and used, and is held while a chunk is written.
	mu   sync.Mutex
	row  db.Upload
	p    *store.Pending // nil once ended
	used time.Time
}

// New returns a Manager; Run must run for idle uploads to be closed.
func New(cfg Config) *Manager {
	if cfg.Reserve == 0 {
		cfg.Reserve = 100 << 20
	}
	cfg.Reserve = max(cfg.Reserve, 0)
	if cfg.Idle <= 0 {
		cfg.Idle = 10 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, m: newMetrics(cfg.Metrics), open: map[string]*session{}}
}

// Run closes the partial files of idle uploads until ctx is done, then
// closes all of them (keeping them for a resume).
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(max(m.cfg.Idle/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.closeIdle(-1)
			return nil
		case <-t.C:
			m.closeIdle(m.cfg.Idle)
		}
	}
}

// closeIdle aborts (keeping the partial) every open upload unused for
// idle; idle < 0 closes all, waiting for chunks being written.
func (m *Manager) closeIdle(idle time.Duration) {
	m.mu.Lock()
	all := make([]*session, 0, len(m.open))
	for _, s := range m.open {
		all = append(all, s)
	}
	m.mu.Unlock()
	for _, s := range all {
		if idle < 0 {
			s.mu.Lock()
		} else if !s.mu.TryLock() {
			continue
		}
		if idle < 0 || time.Since(s.used) >= idle {
			m.end(s, false)
		}
		s.mu.Unlock()
	}
}

// end closes s's partial file (removing it if drop) and forgets s. The
// caller holds s.mu.
func (m *Manager) end(s *session, drop bool) {
	if s.p != nil {
		var err error
		if drop {
			err = s.p.Discard()
		} else {
			err = s.p.Abort()
		}
		if err != nil {
			m.cfg.Log.Warn("closing an upload's partial file", "upload", s.row.ID, "err", err)
		}
		s.p = nil
	}
	m.mu.Lock()
	if m.open[s.row.ID] == s {
		delete(m.open, s.row.ID)
	}
	m.mu.Unlock()
}

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
		return m.state(s.row, s.row.Size), nil
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
	return m.state(s.row, s.p.Offset()), nil
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

// session returns upload id with its partial file open, locked. A done
// upload comes back with p nil.
func (m *Manager) session(ctx context.Context, id string) (*session, error) {
	m.mu.Lock()
	s, ok := m.open[id]
	m.mu.Unlock()
	if ok {
		s.mu.Lock()
		if s.p != nil {
			s.used = time.Now()
			return s, nil
		}
		s.mu.Unlock() // ended meanwhile: open it again
	}
	row, err := m.cfg.DB.GetUpload(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s (abandoned, refused or from another region): start the upload again", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	if row.RegionID != m.cfg.RegionID {
		return nil, fmt.Errorf("%w: upload %s was started on another region: send it there, or start it again here", ErrNotFound, id)
	}
	s = &session{row: row, used: time.Now()}
	s.mu.Lock()
	if row.Done {
		return s, nil
	}
	s.p, err = m.cfg.Store.Begin(row.SHA256, row.Size)
	if errors.Is(err, store.ErrBusy) {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: the same bytes (sha256 %s) are being received by another upload on %s right now: wait for it to end",
			ErrConflict, row.SHA256, m.cfg.RegionName)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, m.storeErr(err)
	}
	m.mu.Lock()
	m.open[id] = s
	m.mu.Unlock()
	return s, nil
}

// Get returns the state of upload id.
func (m *Manager) Get(ctx context.Context, id string) (wire.Upload, error) {
	s, err := m.session(ctx, id)
	if err != nil {
		return wire.Upload{}, err
	}
	defer s.mu.Unlock()
	if s.p == nil {
		return m.state(s.row, s.row.Size), nil
	}
	return m.state(s.row, s.p.Offset()), nil
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
		return m.state(s.row, s.row.Size), nil
	}
	if off != s.p.Offset() {
		return m.state(s.row, s.p.Offset()), fmt.Errorf("%w: %d bytes of upload %s arrived, a chunk at %d was sent: send from %d",
			ErrOffset, s.p.Offset(), id, off, s.p.Offset())
	}
	// One byte beyond the declared size is read so that an excess is
	// caught (Write refuses it and drops the partial).
	n, err := s.p.ReadFrom(&ctxReader{ctx: ctx, r: io.LimitReader(body, min(MaxChunk, s.row.Size-off+1))})
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
		return m.state(s.row, s.p.Offset()), fmt.Errorf("receiving upload %s: %w", id, err)
	}
	if s.p.Offset() < s.row.Size {
		return m.state(s.row, s.p.Offset()), nil
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

// state is the wire form of row with received bytes.
func (m *Manager) state(row db.Upload, received int64) wire.Upload {
	u := wire.Upload{ID: row.ID, Received: received, Done: row.Done, Version: row.Version,
		UploadStart: wire.UploadStart{Name: row.Name, Architecture: row.Architecture, Filetype: row.Filetype,
			Title: row.Title, BaseImage: row.BaseImage, SHA256: row.SHA256, Size: row.Size}}
	if row.Done {
		u.Resource = row.Name
	}
	return u
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ctxReader fails reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
