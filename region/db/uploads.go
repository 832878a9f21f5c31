package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bootfs/bootfs/internal/digest"
)

// RTypeUploaded is MAAS's boot_resource.rtype of an uploaded resource (0
// is synced).
const RTypeUploaded = 2

// LabelUploaded is the label of an uploaded set, so that the tree shows it
// at MAAS's <os>/<arch>/<subarch>/<release>/uploaded/<filename>.
const LabelUploaded = "uploaded"

// Upload is one row of boot_upload: an upload of a custom image under way
// on a region, or done.
type Upload struct {
	ID           string
	RegionID     int64
	Name         string // os/release
	Architecture string // arch/subarch
	Filetype     string // tgz, ddraw, ...
	Title        string
	BaseImage    string
	SHA256       digest.Digest
	Size         int64
	Created      time.Time
	Done         bool
	Version      string // set once Done
}

const uploadCols = `id, region_id, name, architecture, filetype, title, base_image, sha256, size, created, done IS NOT NULL, coalesce(version, '')`

func scanUpload(r pgx.Row) (Upload, error) {
	var u Upload
	var sha string
	err := r.Scan(&u.ID, &u.RegionID, &u.Name, &u.Architecture, &u.Filetype, &u.Title, &u.BaseImage, &sha, &u.Size, &u.Created, &u.Done, &u.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, err
	}
	u.SHA256, err = digest.Parse(sha)
	return u, err
}

// CreateUpload inserts an upload row.
func (d *DB) CreateUpload(ctx context.Context, u Upload) error {
	_, err := d.pool.Exec(ctx, `
		INSERT INTO boot_upload (id, region_id, name, architecture, filetype, title, base_image, sha256, size)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		u.ID, u.RegionID, u.Name, u.Architecture, u.Filetype, u.Title, u.BaseImage, u.SHA256.String(), u.Size)
	if err != nil {
		return fmt.Errorf("record upload %s: %w", u.ID, err)
	}
	return nil
}

// GetUpload reads an upload by id; ErrNotFound if there is none.
func (d *DB) GetUpload(ctx context.Context, id string) (Upload, error) {
	u, err := scanUpload(d.pool.QueryRow(ctx, `SELECT `+uploadCols+` FROM boot_upload WHERE id = $1`, id))
	if err != nil {
		return u, fmt.Errorf("upload %s: %w", id, err)
	}
	return u, nil
}

// FindUpload returns the newest upload on region regionID that is not done
// and has the same name, architecture, content and size; ErrNotFound if
// there is none.
func (d *DB) FindUpload(ctx context.Context, regionID int64, name, arch string, sha digest.Digest, size int64) (Upload, error) {
	return scanUpload(d.pool.QueryRow(ctx, `SELECT `+uploadCols+` FROM boot_upload
		WHERE region_id = $1 AND name = $2 AND architecture = $3 AND sha256 = $4 AND size = $5 AND done IS NULL
		ORDER BY created DESC LIMIT 1`, regionID, name, arch, sha.String(), size))
}

// DeleteUpload removes an upload row (a missing one is not an error).
func (d *DB) DeleteUpload(ctx context.Context, id string) error {
	_, err := d.pool.Exec(ctx, `DELETE FROM boot_upload WHERE id = $1`, id)
	return err
}

// ResourceType returns the rtype of resource (name, architecture), and
// false if there is no such resource.
func (d *DB) ResourceType(ctx context.Context, name, arch string) (int, bool, error) {
	var rtype int
	err := d.pool.QueryRow(ctx, `SELECT rtype FROM boot_resource WHERE name = $1 AND architecture = $2`, name, arch).Scan(&rtype)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return rtype, err == nil, err
}

// NewestUploaded returns the newest version (by creation) of uploaded
// resource (name, architecture) that is not retired, with the content of
// its file named filename; "" if there is none.
func (d *DB) NewestUploaded(ctx context.Context, name, arch, filename string) (version string, sha digest.Digest, err error) {
	var hex string
	err = d.pool.QueryRow(ctx, `
		SELECT s.version, coalesce(f.sha256, '')
		FROM boot_resource r JOIN boot_resource_set s ON s.resource_id = r.id AND s.retired IS NULL
		LEFT JOIN boot_resource_file f ON f.set_id = s.id AND f.filename = $3
		WHERE r.name = $1 AND r.architecture = $2 AND r.rtype = $4
		ORDER BY s.created DESC, s.id DESC LIMIT 1`, name, arch, filename, RTypeUploaded).Scan(&version, &hex)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && hex == "") {
		return version, sha, nil
	}
	if err != nil {
		return "", sha, err
	}
	sha, err = digest.Parse(hex)
	return version, sha, err
}

// NextUploadVersion returns the version name for a new upload of resource
// (name, architecture) made on day (UTC): YYYYMMDD, then YYYYMMDD.1,
// YYYYMMDD.2 ... if that day already has versions, as MAAS names them.
func (d *DB) NextUploadVersion(ctx context.Context, name, arch string, day time.Time) (string, error) {
	base := day.UTC().Format("20060102")
	rows, err := d.pool.Query(ctx, `
		SELECT s.version FROM boot_resource r JOIN boot_resource_set s ON s.resource_id = r.id
		WHERE r.name = $1 AND r.architecture = $2 AND (s.version = $3 OR starts_with(s.version, $3 || '.'))`, name, arch, base)
	if err != nil {
		return "", err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	next := -1
	for _, v := range versions {
		if v == base {
			next = max(next, 0)
			continue
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(v, base+".")); err == nil {
			next = max(next, n)
		}
	}
	if next < 0 {
		return base, nil
	}
	return base + "." + strconv.Itoa(next+1), nil
}

// FinishUpload marks upload id done as version of its resource and stores
// the resource's title and base image (boot_resource.extra) and its type
// (uploaded). The set itself is recorded with RecordSet before.
func (d *DB) FinishUpload(ctx context.Context, u Upload, version string) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			UPDATE boot_resource SET rtype = $3,
			    extra = extra || jsonb_strip_nulls(jsonb_build_object('title', NULLIF($4, ''), 'base_image', NULLIF($5, '')))
			WHERE name = $1 AND architecture = $2`, u.Name, u.Architecture, RTypeUploaded, u.Title, u.BaseImage)
		if err != nil {
			return fmt.Errorf("resource of upload %s: %w", u.ID, err)
		}
		_, err = tx.Exec(ctx, `UPDATE boot_upload SET done = now(), version = $2 WHERE id = $1`, u.ID, version)
		return err
	})
}

// UploadedSetIDs returns the ids of every set of an uploaded resource:
// retirement (nothing selects it) never applies to them.
func (d *DB) UploadedSetIDs(ctx context.Context) (map[int64]bool, error) {
	return d.idSet(ctx, `
		SELECT s.id FROM boot_resource_set s JOIN boot_resource r ON r.id = s.resource_id WHERE r.rtype = $1`, RTypeUploaded)
}

// uploadLock is the advisory lock key held while an upload's version is
// chosen and recorded ("bootfsup").
const uploadLock = 0x626f6f7466737570

// WithUploadLock runs fn holding a database-wide lock, so two regions
// finishing uploads of one resource at the same time choose distinct
// versions (NextUploadVersion, then RecordSet).
func (d *DB) WithUploadLock(ctx context.Context, fn func() error) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(uploadLock)); err != nil {
		return fmt.Errorf("take the upload lock: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(uploadLock)); err != nil {
			_ = conn.Conn().Close(ctx) // closing the session releases the lock
		}
	}()
	return fn()
}

// HoldsVerified reports whether region regionID holds blob sha completely
// with its block digests recorded (so it serves it as it is).
func (d *DB) HoldsVerified(ctx context.Context, regionID int64, sha digest.Digest) (bool, error) {
	var ok bool
	err := d.pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM blob_sync y JOIN blob b ON b.sha256 = y.sha256
		               WHERE y.sha256 = $1 AND y.region_id = $2 AND y.size = b.size
		                 AND (b.block_digests IS NOT NULL OR b.block_blake3 IS NOT NULL))`,
		sha.String(), regionID).Scan(&ok)
	return ok, err
}
