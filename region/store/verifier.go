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
		bad, err := d.verifyOne(ctx, dg, o.BytesPerSec)
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
// and reports bad. A quarantine that moved the file but could not remove
// its bootloader links reports bad together with the error.
func (d *Disk) verifyOne(ctx context.Context, dg digest.Digest, rate int64) (bad bool, err error) {
	f, err := d.Open(dg)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat blob: %w", err)
	}
	whole, _, err := hashFile(ctx, f, rate)
	if err != nil || whole == dg {
		return false, err
	}
	err = d.quarantine(dg, "sha256 of the stored bytes is "+whole.String(), fi)
	if errors.Is(err, ErrNotFound) {
		// Removed or replaced by a fresh commit while we were reading.
		return false, nil
	}
	return true, err
}
