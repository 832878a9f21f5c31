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
//
// Files: manager.go (the Manager and its open uploads), start.go
// (declarations, resuming, the space check), receive.go (chunks, commit,
// recording), names.go (MAAS's naming and filetypes), client.go (the
// client side), metrics.go.
package upload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// sessionState is the wire form of s: a done upload (p nil) has all its
// bytes, an open one what its partial file holds. The caller holds s.mu.
func (m *Manager) sessionState(s *session) wire.Upload {
	if s.p == nil {
		return m.state(s.row, s.row.Size)
	}
	return m.state(s.row, s.p.Offset())
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
