package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
)

// VerifierOptions configures RunVerifier. Zero values get the defaults
// noted on each field.
type VerifierOptions struct {
	// BytesPerSec caps the read rate; default 50 MiB/s.
	BytesPerSec int64
	// Interval is the pause between two full passes; default 24h.
	Interval time.Duration
	// List returns the digests to verify (what the database says this
	// region holds). Required. If it fails, the pass is retried after a
	// minute (or Interval, if shorter).
	List func(ctx context.Context) ([]digest.Digest, error)
	// OnCorrupt, if set, is called with each blob found corrupt, after it
	// was quarantined, so the caller forgets it and fetches it again.
	OnCorrupt func(digest.Digest)
	// OnVerified, if set, is called with each blob whose bytes matched its
	// name, and its block digests (of digest.BlockAlgorithm) computed in
	// the same pass: the region records them for files whose block
	// digests are of an older algorithm, so converting a store costs no
	// read beyond the verifier's own, at the verifier's rate.
	OnVerified func(ctx context.Context, dg digest.Digest, blocks []digest.Digest)
}

// Defaults of VerifierOptions.
const (
	DefaultVerifyBytesPerSec = 50 * 1000 * 1000
	DefaultVerifyInterval    = 24 * time.Hour
	verifyListRetry          = time.Minute
)

// RunVerifier re-hashes the listed blobs at a bounded rate, pass after
// pass, until ctx is done (then it returns nil). A blob whose bytes do not
// hash to its name is quarantined and reported through OnCorrupt. Blobs
// that vanish during a pass are skipped; read errors are logged and the
// pass goes on.
func (d *Disk) RunVerifier(ctx context.Context, o VerifierOptions) error {
	if o.List == nil {
		return errors.New("store: verifier needs a List function")
	}
	if o.BytesPerSec <= 0 {
		o.BytesPerSec = DefaultVerifyBytesPerSec
	}
	if o.Interval <= 0 {
		o.Interval = DefaultVerifyInterval
	}
	for {
		wait := o.Interval
		if err := d.verifyPass(ctx, o); err != nil && ctx.Err() == nil {
			d.log.Warn("verifier cannot list blobs", "err", err)
			wait = min(o.Interval, verifyListRetry)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// verifyPass verifies every listed blob once. It returns only List's error.
func (d *Disk) verifyPass(ctx context.Context, o VerifierOptions) error {
	list, err := o.List(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	var checked, corrupt, failed int
	for _, dg := range list {
		bad, err := d.verifyOne(ctx, dg, o.BytesPerSec, o.OnVerified)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrNotFound) {
			continue
		}
		checked++
		if err != nil {
			failed++
			d.log.Warn("cannot verify blob", "sha256", dg, "err", err)
		}
		if bad {
			corrupt++
			if o.OnCorrupt != nil {
				o.OnCorrupt(dg)
			}
		}
	}
	d.log.Info("verified store", "listed", len(list), "checked", checked,
		"corrupt", corrupt, "failed", failed, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// verifyOne hashes one blob; if its bytes do not match, it quarantines it
// and reports bad; if they do, it hands the block digests to ok (if set).
// A quarantine that moved the file but could not remove its bootloader
// links reports bad together with the error.
func (d *Disk) verifyOne(ctx context.Context, dg digest.Digest, rate int64,
	ok func(context.Context, digest.Digest, []digest.Digest)) (bad bool, err error) {
	f, err := d.Open(dg)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat blob: %w", err)
	}
	whole, blocks, err := hashFile(ctx, f, digest.BlockAlgorithm, rate)
	if err != nil {
		return false, err
	}
	if whole == dg {
		if ok != nil {
			ok(ctx, dg, blocks)
		}
		return false, nil
	}
	err = d.quarantine(dg, "sha256 of the stored bytes is "+whole.String(), fi)
	if errors.Is(err, ErrNotFound) {
		// Removed or replaced by a fresh commit while we were reading.
		return false, nil
	}
	return true, err
}
