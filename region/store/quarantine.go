package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
)

// Quarantine moves blob dg to Dir/.quarantine/<hex>.<unix time>, where it
// is kept for inspection and never served again, and removes the
// bootloader links made from it (a hard link shares the bad bytes). It
// logs the move. ErrNotFound if the blob is not stored.
func (d *Disk) Quarantine(dg digest.Digest, reason string) error {
	return d.quarantine(dg, reason, nil)
}

// quarantine is Quarantine; if only is not nil, the blob is moved only if
// its path still names that file (not a good copy committed meanwhile).
func (d *Disk) quarantine(dg digest.Digest, reason string, only os.FileInfo) error {
	d.linkMu.Lock()
	defer d.linkMu.Unlock()
	return d.quarantineLocked(dg, reason, only)
}

// quarantineLocked is quarantine with linkMu held.
func (d *Disk) quarantineLocked(dg digest.Digest, reason string, only os.FileInfo) error {
	src := d.Path(dg)
	fi, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, dg)
	}
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	if only != nil && !os.SameFile(fi, only) {
		return fmt.Errorf("%w: %s was replaced before it could be quarantined", ErrNotFound, dg)
	}
	qdir := filepath.Join(d.dir, quarantineDir)
	base := dg.String() + "." + strconv.FormatInt(time.Now().Unix(), 10)
	dst := filepath.Join(qdir, base)
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = filepath.Join(qdir, base+"."+strconv.Itoa(i))
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	d.mu.Lock()
	d.idx.remove(dg)
	d.idx.quarantined++
	delete(d.fresh, dg)
	d.mu.Unlock()
	d.m.quarantined()
	d.log.Warn("quarantined blob", "sha256", dg, "reason", reason, "path", dst)
	linkErr := d.unlinkBootloadersLocked(dg)
	if err := syncDir(d.dir); err != nil {
		return errors.Join(fmt.Errorf("quarantine: %w", err), linkErr)
	}
	return linkErr
}

// Hash re-reads stored blob dg and returns its sha256 and block digests
// (of digest.BlockAlgorithm, as Commit's), reading at most bytesPerSec
// bytes a second when bytesPerSec > 0. ErrNotFound if the blob is not
// stored; ctx's error if cancelled.
func (d *Disk) Hash(ctx context.Context, dg digest.Digest, bytesPerSec int64) (digest.Digest, []digest.Digest, error) {
	return d.HashOf(ctx, dg, digest.BlockAlgorithm, bytesPerSec)
}

// HashOf is Hash with block digests of algorithm algo (digest.SHA256 for
// the clients of an earlier release).
func (d *Disk) HashOf(ctx context.Context, dg digest.Digest, algo string, bytesPerSec int64) (digest.Digest, []digest.Digest, error) {
	f, err := d.Open(dg)
	if err != nil {
		return digest.Digest{}, nil, err
	}
	defer f.Close()
	return hashFile(ctx, f, algo, bytesPerSec)
}

// hashFile hashes f from its current offset to EOF, paced to bytesPerSec.
func hashFile(ctx context.Context, f *os.File, algo string, bytesPerSec int64) (digest.Digest, []digest.Digest, error) {
	buf := getBuf()
	defer putBuf(buf)
	chunk := *buf
	if bytesPerSec > 0 && bytesPerSec/8 < int64(len(chunk)) {
		// Small reads at low rates, so the pacing is smooth.
		chunk = chunk[:max(bytesPerSec/8, 4096)]
	}
	h := digest.NewHasherOf(algo, digest.BlockSize)
	pace := pacer{rate: bytesPerSec, start: time.Now()}
	for {
		if err := ctx.Err(); err != nil {
			return digest.Digest{}, nil, err
		}
		n, err := f.Read(chunk)
		h.Write(chunk[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return digest.Digest{}, nil, fmt.Errorf("reading %s: %w", f.Name(), err)
		}
		if err := pace.wait(ctx, n); err != nil {
			return digest.Digest{}, nil, err
		}
	}
	whole, blocks := h.Sum()
	return whole, blocks, nil
}

// pacer sleeps so that bytes reported to wait do not exceed rate a second
// on average since start. A rate <= 0 means no limit.
type pacer struct {
	rate  int64
	start time.Time
	done  int64
}

func (p *pacer) wait(ctx context.Context, n int) error {
	if p.rate <= 0 {
		return nil
	}
	p.done += int64(n)
	due := p.start.Add(time.Duration(float64(p.done) / float64(p.rate) * float64(time.Second)))
	delay := time.Until(due)
	if delay <= 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
