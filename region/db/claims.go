package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bootfs/bootfs/internal/digest"
)

// Claim tries to take the upstream download of a blob for a region, for
// ttl. It succeeds when nobody holds a claim, when the claim has expired
// (its holder died or stalled), or when the region already holds it
// (then it is renewed). Exactly one region wins a race: the row lock of
// the upsert serialises claimers.
func (d *DB) Claim(ctx context.Context, regionID int64, sha digest.Digest, source string, ttl time.Duration) (bool, error) {
	var winner int64
	err := d.pool.QueryRow(ctx, `
		INSERT INTO download_claim (sha256, region_id, source, expires)
		VALUES ($1, $2, $3, now() + $4::interval)
		ON CONFLICT (sha256) DO UPDATE
		SET region_id = EXCLUDED.region_id, source = EXCLUDED.source, claimed = now(), expires = EXCLUDED.expires
		WHERE download_claim.expires < now() OR download_claim.region_id = EXCLUDED.region_id
		RETURNING region_id`, sha.String(), regionID, source, ttl.String()).Scan(&winner)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // a live claim of another region
	}
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", sha, err)
	}
	return winner == regionID, nil
}

// RenewClaim extends a claim the region holds; ErrNotFound if it lost it.
func (d *DB) RenewClaim(ctx context.Context, regionID int64, sha digest.Digest, ttl time.Duration) error {
	tag, err := d.pool.Exec(ctx, `
		UPDATE download_claim SET expires = now() + $3::interval
		WHERE sha256 = $1 AND region_id = $2`, sha.String(), regionID, ttl.String())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("claim on %s: %w", sha, ErrNotFound)
	}
	return nil
}

// ReleaseClaim drops a region's claim (after the download, or on failure).
func (d *DB) ReleaseClaim(ctx context.Context, regionID int64, sha digest.Digest) error {
	_, err := d.pool.Exec(ctx, `DELETE FROM download_claim WHERE sha256 = $1 AND region_id = $2`, sha.String(), regionID)
	return err
}

// ClaimInfo is a download in progress somewhere.
type ClaimInfo struct {
	SHA256  digest.Digest
	Region  string
	Source  string
	Claimed time.Time
	Expires time.Time
	Live    bool // not expired
}

// Claims lists every claim, for status.
func (d *DB) Claims(ctx context.Context) ([]ClaimInfo, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT c.sha256, r.name, c.source, c.claimed, c.expires, c.expires >= now()
		FROM download_claim c JOIN region r ON r.id = c.region_id ORDER BY c.claimed`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClaimInfo, error) {
		var c ClaimInfo
		var sha string
		if err := r.Scan(&sha, &c.Region, &c.Source, &c.Claimed, &c.Expires, &c.Live); err != nil {
			return c, err
		}
		var err error
		c.SHA256, err = digest.Parse(sha)
		return c, err
	})
}

// Holders lists the regions other than exclude holding a complete copy of
// a blob, most recently alive first.
func (d *DB) Holders(ctx context.Context, sha digest.Digest, exclude int64) ([]Region, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT r.id, r.name, r.url, r.last_heartbeat
		FROM blob_sync s JOIN blob b ON b.sha256 = s.sha256 JOIN region r ON r.id = s.region_id
		WHERE s.sha256 = $1 AND s.size = b.size AND r.id <> $2
		ORDER BY r.last_heartbeat DESC`, sha.String(), exclude)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanRegion)
}
