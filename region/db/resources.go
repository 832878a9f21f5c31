package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
//
// A record with upstream files (an import) names the set's source (the
// boot source whose URL prefixes the files' URLs) and un-retires the set: a
// selection picks it again. Records without (extracted members, the
// migration) leave both as they are.
func (d *DB) RecordSet(ctx context.Context, s SetRecord) (int64, error) {
	var setID int64
	upstream := ""
	for _, f := range s.Files {
		if f.SourceURL != "" {
			upstream = f.SourceURL
			break
		}
	}
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
			INSERT INTO boot_resource_set (resource_id, version, label, source)
			VALUES ($1, $2, $3, (SELECT url FROM boot_source WHERE $4 <> '' AND starts_with($4, rtrim(url, '/') || '/')
			                     ORDER BY length(url) DESC LIMIT 1))
			ON CONFLICT (resource_id, version) DO UPDATE SET label = EXCLUDED.label,
			    source = coalesce(EXCLUDED.source, boot_resource_set.source),
			    retired = CASE WHEN $4 = '' THEN boot_resource_set.retired END
			RETURNING id`, resID, s.Version, s.Label, upstream).Scan(&setID)
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

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// SourcedSet is a set recorded from a boot source, as retirement needs it.
type SourcedSet struct {
	ID             int64
	Source         string // the URL of the source that recorded it
	Name           string
	Architecture   string
	BootloaderType string
	Label          string
	Version        string
	Retired        bool
}

// SourcedSets lists every set recorded from a boot source (not those of
// unknown origin, such as migrated ones), retired or not.
func (d *DB) SourcedSets(ctx context.Context) ([]SourcedSet, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT s.id, s.source, r.name, r.architecture, coalesce(r.bootloader_type, ''), s.label, s.version, s.retired IS NOT NULL
		FROM boot_resource_set s JOIN boot_resource r ON r.id = s.resource_id
		WHERE s.source IS NOT NULL ORDER BY s.id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SourcedSet, error) {
		var s SourcedSet
		err := r.Scan(&s.ID, &s.Source, &s.Name, &s.Architecture, &s.BootloaderType, &s.Label, &s.Version, &s.Retired)
		return s, err
	})
}

// RetireSets marks sets as retired now (unless they already are) and
// announces it; it returns how many it marked.
func (d *DB) RetireSets(ctx context.Context, ids []int64) (int64, error) {
	return d.updateSets(ctx, ids, `UPDATE boot_resource_set SET retired = now() WHERE id = ANY($1) AND retired IS NULL`)
}

// RestoreSets clears the retirement of sets picked again.
func (d *DB) RestoreSets(ctx context.Context, ids []int64) (int64, error) {
	return d.updateSets(ctx, ids, `UPDATE boot_resource_set SET retired = NULL WHERE id = ANY($1) AND retired IS NOT NULL`)
}

func (d *DB) updateSets(ctx context.Context, ids []int64, sql string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := d.pool.Exec(ctx, sql, ids)
	if err != nil || tag.RowsAffected() == 0 {
		return 0, err
	}
	return tag.RowsAffected(), d.Notify(ctx, "set")
}

// DeleteRetiredSets deletes the sets retired at least grace ago (and
// resources left without sets), returning how many; their blobs go with
// DeleteOrphanBlobs.
func (d *DB) DeleteRetiredSets(ctx context.Context, grace time.Duration) (int64, error) {
	tag, err := d.pool.Exec(ctx, `DELETE FROM boot_resource_set WHERE retired <= now() - $1::interval`, grace.String())
	if err != nil || tag.RowsAffected() == 0 {
		return 0, err
	}
	_, err = d.pool.Exec(ctx, `DELETE FROM boot_resource r WHERE NOT EXISTS (SELECT 1 FROM boot_resource_set s WHERE s.resource_id = r.id)`)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), d.Notify(ctx, "set")
}

// FileUse is one file of a set that is not retired, found by content.
type FileUse struct {
	SHA256       digest.Digest
	Product      string // the upstream product id, "" if unknown
	Resource     string
	Architecture string
	Version      string
	Filename     string
}

// FilesUsing lists the files of sets that are not retired with one of the
// given contents, ordered by resource, architecture, version and filename.
func (d *DB) FilesUsing(ctx context.Context, shas []digest.Digest) ([]FileUse, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT f.sha256, coalesce(f.extra->>'product', ''), r.name, r.architecture, s.version, f.filename
		FROM boot_resource_file f
		JOIN boot_resource_set s ON s.id = f.set_id AND s.retired IS NULL
		JOIN boot_resource r ON r.id = s.resource_id
		WHERE f.sha256 = ANY($1)
		ORDER BY r.name, r.architecture, s.version, f.filename`, hexes(shas))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (FileUse, error) {
		var u FileUse
		var sha string
		if err := r.Scan(&sha, &u.Product, &u.Resource, &u.Architecture, &u.Version, &u.Filename); err != nil {
			return u, err
		}
		var err error
		u.SHA256, err = digest.Parse(sha)
		return u, err
	})
}
