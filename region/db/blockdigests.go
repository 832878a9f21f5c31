package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/jackc/pgx/v5"
)

// Block digests of a blob live in two columns, one per algorithm
// (migration 0010): block_size and block_digests hold SHA-256 ones (all a
// region of an earlier release reads), block_blake3 BLAKE3 ones of
// digest.BlockSize blocks. A blob ingested by this release has BLAKE3
// digests only, until something asks for SHA-256 ones (a rack or region
// of an earlier release).

// BlockRecord is the block digests of one blob in one algorithm.
type BlockRecord struct {
	Size      int64 // the blob's size
	BlockSize int64
	Algorithm string // digest.BLAKE3 or digest.SHA256
	Blocks    []digest.Digest
}

// SetBlockDigests stores block digests of digest.BlockAlgorithm, computed
// at ingest (what store.Commit, Put and Hash return). The first region to
// ingest a blob writes them; they are the same everywhere.
func (d *DB) SetBlockDigests(ctx context.Context, sha digest.Digest, blockSize int64, blocks []digest.Digest) error {
	return d.SetBlockDigestsOf(ctx, sha, digest.BlockAlgorithm, blockSize, blocks)
}

// SetBlockDigestsOf stores block digests of algorithm algo. Digests
// already recorded in that algorithm are kept. An unknown blob is not an
// error (nothing is stored).
func (d *DB) SetBlockDigestsOf(ctx context.Context, sha digest.Digest, algo string, blockSize int64, blocks []digest.Digest) error {
	algo, err := digest.CheckAlgorithm(algo)
	if err != nil {
		return err
	}
	if algo == digest.BLAKE3 {
		if blockSize != digest.BlockSize {
			return fmt.Errorf("blake3 block digests of %s: block size %d, only %d is recorded", sha, blockSize, digest.BlockSize)
		}
		_, err := d.pool.Exec(ctx, `
			UPDATE blob SET block_blake3 = $2 WHERE sha256 = $1 AND block_blake3 IS NULL`,
			sha.String(), digest.EncodeBlocks(blocks))
		return err
	}
	_, err = d.pool.Exec(ctx, `
		UPDATE blob SET block_size = $2, block_digests = $3
		WHERE sha256 = $1 AND (block_digests IS NULL OR block_size <> $2)`,
		sha.String(), blockSize, digest.EncodeBlocks(blocks))
	return err
}

// BlockDigests returns the stored block digests of a blob, BLAKE3 ones if
// recorded, else SHA-256 ones; ErrNotFound if the blob is unknown or none
// are recorded yet. It is BlockDigestsOf(ctx, sha, "") without the
// algorithm, for callers that only ask whether any are recorded.
func (d *DB) BlockDigests(ctx context.Context, sha digest.Digest) (size, blockSize int64, blocks []digest.Digest, err error) {
	r, err := d.BlockDigestsOf(ctx, sha, "")
	return r.Size, r.BlockSize, r.Blocks, err
}

// BlockDigestsOf returns the stored block digests of a blob in algorithm
// algo, or with algo "" in the best one recorded (BLAKE3, else SHA-256).
// ErrNotFound if the blob is unknown or has none of that algorithm.
func (d *DB) BlockDigestsOf(ctx context.Context, sha digest.Digest, algo string) (BlockRecord, error) {
	var r BlockRecord
	var sha256Blocks, blake3Blocks []byte
	var bs *int64
	err := d.pool.QueryRow(ctx, `SELECT size, block_size, block_digests, block_blake3 FROM blob WHERE sha256 = $1`,
		sha.String()).Scan(&r.Size, &bs, &sha256Blocks, &blake3Blocks)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("block digests of %s: %w", sha, ErrNotFound)
	}
	if err != nil {
		return r, err
	}
	var raw []byte
	switch {
	case blake3Blocks != nil && (algo == "" || algo == digest.BLAKE3):
		r.Algorithm, r.BlockSize, raw = digest.BLAKE3, digest.BlockSize, blake3Blocks
	case bs != nil && (algo == "" || algo == digest.SHA256):
		r.Algorithm, r.BlockSize, raw = digest.SHA256, *bs, sha256Blocks
	default:
		what := "any"
		if algo != "" {
			what = algo
		}
		return BlockRecord{}, fmt.Errorf("%s block digests of %s: %w", what, sha, ErrNotFound)
	}
	if r.Blocks, err = digest.DecodeBlocks(raw); err != nil {
		return BlockRecord{}, err
	}
	return r, nil
}

// HeldByConversion lists the blobs this region holds, those without BLAKE3
// block digests first (the order the background verifier reads them in,
// so that a store ingested by an earlier release is converted first).
func (d *DB) HeldByConversion(ctx context.Context, regionID int64) ([]digest.Digest, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT s.sha256 FROM blob_sync s JOIN blob b ON b.sha256 = s.sha256
		WHERE s.region_id = $1 AND s.size = b.size
		ORDER BY b.block_blake3 IS NOT NULL, s.sha256`, regionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []digest.Digest
	for rows.Next() {
		var sha string
		if err := rows.Scan(&sha); err != nil {
			return nil, err
		}
		dg, err := digest.Parse(sha)
		if err != nil {
			return nil, err
		}
		out = append(out, dg)
	}
	return out, rows.Err()
}
