package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bootfs/bootfs/internal/digest"
)

// Snapshot is a consistent read of everything that decides the boot tree
// and the status: regions, sets with their files, and who holds what.
type Snapshot struct {
	Now     time.Time
	Regions []Region
	Sets    []Set
	// Held maps region id to the blobs it holds and how many bytes of each.
	Held map[int64]map[digest.Digest]int64
}

// Set is one resource set with its resource's fields and its files.
type Set struct {
	ID             int64
	ResourceID     int64
	Name           string
	Architecture   string
	Kflavor        string
	BootloaderType string
	Version        string
	Label          string
	Created        time.Time
	Published      *time.Time // when it first was complete everywhere; nil if never
	Files          []File
}

// File is one file of a set.
type File struct {
	Filename       string
	Filetype       string
	SHA256         digest.Digest
	Size           int64
	FilenameOnDisk string
	Extra          map[string]any
}

// Snapshot reads regions, sets, files and sync state in one repeatable-read
// transaction. Retired sets (no source selection picks them any more) are
// left out: they are in neither the tree nor the status, and wait only to
// be deleted.
func (d *DB) Snapshot(ctx context.Context) (*Snapshot, error) {
	s := &Snapshot{Held: map[int64]map[digest.Digest]int64{}}
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&s.Now); err != nil {
			return err
		}
		var err error
		if s.Regions, err = snapshotRegions(ctx, tx); err != nil {
			return err
		}
		if s.Sets, err = snapshotSets(ctx, tx); err != nil {
			return err
		}
		if err := snapshotFiles(ctx, tx, s.Sets); err != nil {
			return err
		}
		return snapshotHeld(ctx, tx, s.Held)
	})
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	return s, nil
}

// snapshotRegions reads the registered regions, by name.
func snapshotRegions(ctx context.Context, tx pgx.Tx) ([]Region, error) {
	rows, err := tx.Query(ctx, `SELECT id, name, url, last_heartbeat FROM region ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanRegion)
}

// scanRegion reads a row of id, name, url, last_heartbeat.
func scanRegion(r pgx.CollectableRow) (Region, error) {
	var g Region
	err := r.Scan(&g.ID, &g.Name, &g.URL, &g.LastHeartbeat)
	return g, err
}

// snapshotSets reads the sets not retired, without their files, by
// resource name, architecture and version.
func snapshotSets(ctx context.Context, tx pgx.Tx) ([]Set, error) {
	rows, err := tx.Query(ctx, `
		SELECT s.id, r.id, r.name, r.architecture, coalesce(r.kflavor, ''), coalesce(r.bootloader_type, ''),
		       s.version, s.label, s.created, s.published
		FROM boot_resource_set s JOIN boot_resource r ON r.id = s.resource_id
		WHERE s.retired IS NULL
		ORDER BY r.name, r.architecture, s.version, s.id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Set, error) {
		var t Set
		err := r.Scan(&t.ID, &t.ResourceID, &t.Name, &t.Architecture, &t.Kflavor, &t.BootloaderType,
			&t.Version, &t.Label, &t.Created, &t.Published)
		return t, err
	})
}

// snapshotFiles reads the files of sets into them, by filename.
func snapshotFiles(ctx context.Context, tx pgx.Tx, sets []Set) error {
	byID := make(map[int64]*Set, len(sets))
	for i := range sets {
		byID[sets[i].ID] = &sets[i]
	}
	rows, err := tx.Query(ctx, `
		SELECT f.set_id, f.filename, f.filetype, f.sha256, f.size, b.filename_on_disk, f.extra
		FROM boot_resource_file f JOIN blob b ON b.sha256 = f.sha256
		ORDER BY f.set_id, f.filename`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var setID int64
		var f File
		var sha string
		var extra []byte
		if err := rows.Scan(&setID, &f.Filename, &f.Filetype, &sha, &f.Size, &f.FilenameOnDisk, &extra); err != nil {
			return err
		}
		if f.SHA256, err = digest.Parse(sha); err != nil {
			return err
		}
		if err := json.Unmarshal(extra, &f.Extra); err != nil {
			return fmt.Errorf("file %s extra: %w", f.Filename, err)
		}
		if set := byID[setID]; set != nil {
			set.Files = append(set.Files, f)
		}
	}
	return rows.Err()
}

// snapshotHeld reads which region holds how much of which blob into held.
func snapshotHeld(ctx context.Context, tx pgx.Tx, held map[int64]map[digest.Digest]int64) error {
	rows, err := tx.Query(ctx, `SELECT region_id, sha256, size FROM blob_sync`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var rid, size int64
		var sha string
		if err := rows.Scan(&rid, &sha, &size); err != nil {
			return err
		}
		dg, err := digest.Parse(sha)
		if err != nil {
			return err
		}
		if held[rid] == nil {
			held[rid] = map[digest.Digest]int64{}
		}
		held[rid][dg] = size
	}
	return rows.Err()
}
