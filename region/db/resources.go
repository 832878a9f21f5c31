package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bootfs/bootfs/internal/digest"
)

// SetRecord describes one version of one resource and its files, as an
// import (or the migration) records it.
type SetRecord struct {
	Name           string // e.g. ubuntu/jammy
	Architecture   string // e.g. amd64/ga-22.04
	Kflavor        string
	BootloaderType string
	RType          int
	Version        string
	Label          string
	Files          []FileRecord
}

// FileRecord is one file of a set.
type FileRecord struct {
	Filename  string
	Filetype  string
	SHA256    digest.Digest
	Size      int64
	SourceURL string // "" when there is no upstream URL
	Extra     map[string]any
}

// shortLen is MAAS's filename_on_disk length; lengthened on collision.
const shortLen = 7

// RecordSet upserts the resource, the set and its files (and their blobs),
// and returns the set id. Files of an existing set are added or updated,
// never removed: a set's content is immutable upstream.
func (d *DB) RecordSet(ctx context.Context, s SetRecord) (int64, error) {
	var setID int64
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		var resID int64
		err := tx.QueryRow(ctx, `
			INSERT INTO boot_resource (rtype, name, architecture, kflavor, bootloader_type)
			VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''))
			ON CONFLICT (name, architecture) DO UPDATE
			SET kflavor = EXCLUDED.kflavor, bootloader_type = EXCLUDED.bootloader_type
			RETURNING id`, s.RType, s.Name, s.Architecture, s.Kflavor, s.BootloaderType).Scan(&resID)
		if err != nil {
			return fmt.Errorf("resource: %w", err)
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO boot_resource_set (resource_id, version, label) VALUES ($1, $2, $3)
			ON CONFLICT (resource_id, version) DO UPDATE SET label = EXCLUDED.label
			RETURNING id`, resID, s.Version, s.Label).Scan(&setID)
		if err != nil {
			return fmt.Errorf("set: %w", err)
		}
		for _, f := range s.Files {
			if err := ensureBlob(ctx, tx, f.SHA256, f.Size); err != nil {
				return fmt.Errorf("file %s: %w", f.Filename, err)
			}
			extra, err := json.Marshal(orEmpty(f.Extra))
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `
				INSERT INTO boot_resource_file (set_id, filename, filetype, sha256, size, source_url, extra)
				VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7)
				ON CONFLICT (set_id, filename) DO UPDATE
				SET filetype = EXCLUDED.filetype, sha256 = EXCLUDED.sha256, size = EXCLUDED.size,
				    source_url = EXCLUDED.source_url, extra = EXCLUDED.extra`,
				setID, f.Filename, f.Filetype, f.SHA256.String(), f.Size, f.SourceURL, extra)
			if err != nil {
				return fmt.Errorf("file %s: %w", f.Filename, err)
			}
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'set')`, ChangeChannel)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record %s %s %s: %w", s.Name, s.Architecture, s.Version, err)
	}
	return setID, nil
}

// ensureBlob inserts a blob row if missing, choosing the shortest free
// filename_on_disk of at least shortLen hex characters.
func ensureBlob(ctx context.Context, tx pgx.Tx, sha digest.Digest, size int64) error {
	var have int64
	// FOR KEY SHARE: a concurrent DeleteOrphanBlobs must wait for this
	// transaction (and then fail on the new file's foreign key) rather than
	// delete the row between this check and the file insert.
	err := tx.QueryRow(ctx, `SELECT size FROM blob WHERE sha256 = $1 FOR KEY SHARE`, sha.String()).Scan(&have)
	if err == nil {
		if have != size {
			return fmt.Errorf("sha256 %s is recorded with size %d, now claimed with size %d", sha, have, size)
		}
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	for n := shortLen; n <= 64; n++ {
		tag, err := tx.Exec(ctx, `
			INSERT INTO blob (sha256, size, filename_on_disk) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, sha.String(), size, sha.Short(n))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		// Either another transaction inserted this sha256 meanwhile, or the
		// short name is taken by another blob: check which.
		err = tx.QueryRow(ctx, `SELECT size FROM blob WHERE sha256 = $1`, sha.String()).Scan(&have)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	return fmt.Errorf("no free filename_on_disk for %s", sha)
}

// Blob is a distinct content known to the database.
type Blob struct {
	SHA256         digest.Digest
	Size           int64
	FilenameOnDisk string
}

// BlobByName finds a blob by its filename_on_disk (or full sha256).
func (d *DB) BlobByName(ctx context.Context, name string) (Blob, error) {
	var b Blob
	var sha string
	err := d.pool.QueryRow(ctx, `
		SELECT sha256, size, filename_on_disk FROM blob
		WHERE filename_on_disk = $1 OR sha256 = $1 LIMIT 1`, name).Scan(&sha, &b.Size, &b.FilenameOnDisk)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, fmt.Errorf("blob %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return b, err
	}
	b.SHA256, err = digest.Parse(sha)
	return b, err
}

// SetBlockDigests stores the per-block digests computed at ingest. The
// first region to ingest a blob writes them; they are the same everywhere.
func (d *DB) SetBlockDigests(ctx context.Context, sha digest.Digest, blockSize int64, blocks []digest.Digest) error {
	_, err := d.pool.Exec(ctx, `
		UPDATE blob SET block_size = $2, block_digests = $3
		WHERE sha256 = $1 AND (block_digests IS NULL OR block_size <> $2)`,
		sha.String(), blockSize, digest.EncodeBlocks(blocks))
	return err
}

// BlockDigests returns the stored block digests of a blob; ErrNotFound if
// the blob is unknown or not ingested yet.
func (d *DB) BlockDigests(ctx context.Context, sha digest.Digest) (size, blockSize int64, blocks []digest.Digest, err error) {
	var raw []byte
	var bs *int64
	err = d.pool.QueryRow(ctx, `SELECT size, block_size, block_digests FROM blob WHERE sha256 = $1`,
		sha.String()).Scan(&size, &bs, &raw)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && bs == nil) {
		return 0, 0, nil, fmt.Errorf("block digests of %s: %w", sha, ErrNotFound)
	}
	if err != nil {
		return 0, 0, nil, err
	}
	blocks, err = digest.DecodeBlocks(raw)
	return size, *bs, blocks, err
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
