package reader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// ErrBadFile is returned (wrapped) by ReadAt for a file whose cached
// content, complete and verified block by block, did not match the file's
// sha256: the regions' block digest list describes other bytes. Reads fail
// until a region sends another list.
var ErrBadFile = errors.New("file content does not match its sha256 (a region sent a wrong block digest list)")

// wholeResult is the outcome of a whole-file check of one file.
type wholeResult int

const (
	wholeUnchecked wholeResult = iota
	wholeGood
	wholeBad
)

// listSum identifies a block digest list (the same blocks, the same list).
func listSum(bd *wire.BlockDigests) digest.Digest {
	return digest.Of(digest.EncodeBlocks(bd.Blocks))
}

// checkWhole decides whether the wholly cached file d (bytes [0, size) in
// fd) may be handed to the kernel: its whole content must hash to d. The
// sha256 is computed once per file per process, before the first hand-over
// (the open waits for it), and recorded in the DigestStore; after a
// restart the record is believed only when the cache trusted every chunk
// of the file without checking it (trusted: a clean stop stamped the file
// and nothing touched it since), otherwise the file is hashed again. A
// block fetched from a region clears the record (unverify). Concurrent
// checks of one file share one hashing. A file that fails is remembered as
// bad along with the block digest list that let its blocks in; its blocks
// are discarded from the cache and the list is forgotten (memory,
// DigestStore, client), so the next read asks a region for the list again.
func (r *Reader) checkWhole(ctx context.Context, d digest.Digest, size int64, fd int, trusted bool) bool {
	switch r.wholeState(d) {
	case wholeGood:
		return true
	case wholeBad:
		return false
	}
	if trusted && r.store != nil && r.store.Verified(d) {
		r.setWhole(d, wholeGood)
		return true
	}
	v, _, _ := r.wholeFlights.Do(d.String(), func() (any, error) {
		if res := r.wholeState(d); res != wholeUnchecked {
			return res == wholeGood, nil
		}
		start := time.Now()
		got, err := hashFD(r.ctx, fd, size)
		if err != nil {
			// Not a verdict on the file: tried again at the next open.
			if r.ctx.Err() == nil {
				r.log.Warn("cannot read a cached file to check its sha256; not passing it through", "sha256", d.String(), "err", err)
			}
			return false, nil
		}
		took := time.Since(start)
		r.st.wholeChecks.Add(1)
		r.st.wholeBytes.Add(size)
		r.st.wholeNanos.Add(int64(took))
		if got != d {
			r.st.wholeFailures.Add(1)
			r.markBad(ctx, d, size, got)
			return false, nil
		}
		r.wholeMu.Lock()
		r.whole[d] = wholeGood
		delete(r.unverified, d) // the next block fetched clears the record again
		r.wholeMu.Unlock()
		if r.store != nil {
			if err := r.store.MarkVerified(d); err != nil {
				r.log.Warn("cannot record a file's whole-file check; it is checked again after a restart", "sha256", d.String(), "err", err)
			}
		}
		r.log.Debug("cached file matches its sha256", "sha256", d.String(), "size", size, "took", took)
		return true, nil
	})
	return v.(bool)
}

// unverify is called for every block of d fetched from a region: the
// cached file is no longer what a whole-file check saw (if any), so its
// record is cleared and its next hand-over checks it again.
func (r *Reader) unverify(d digest.Digest) {
	r.wholeMu.Lock()
	if r.whole[d] == wholeGood {
		delete(r.whole, d)
	}
	first := !r.unverified[d]
	r.unverified[d] = true
	r.wholeMu.Unlock()
	if first && r.store != nil {
		r.store.ClearVerified(d)
	}
}

// wholeState returns the outcome of d's whole-file check.
func (r *Reader) wholeState(d digest.Digest) wholeResult {
	r.wholeMu.Lock()
	defer r.wholeMu.Unlock()
	return r.whole[d]
}

func (r *Reader) setWhole(d digest.Digest, res wholeResult) {
	r.wholeMu.Lock()
	defer r.wholeMu.Unlock()
	r.whole[d] = res
}

// markBad records that file d's cached bytes hash to got, drops them and
// forgets the block digest list that let them in.
func (r *Reader) markBad(ctx context.Context, d digest.Digest, size int64, got digest.Digest) {
	var sum digest.Digest
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if bd, err := r.blockDigests(ctx, d); err == nil {
		sum = listSum(bd)
	}
	r.wholeMu.Lock()
	r.whole[d] = wholeBad
	r.badLists[d] = sum
	r.wholeMu.Unlock()
	dropped := 0
	if dc, ok := r.cache.(discarder); ok {
		dropped = dc.Discard(d, size)
	}
	r.forgetDigests(d)
	r.log.Error("a wholly cached file does not match its sha256: a region sent a wrong block digest list; not serving it",
		"sha256", d.String(), "got", got.String(), "size", size, "blocks_dropped", dropped)
}

// badFile returns ErrBadFile if d failed its whole-file check with block
// digest list bd; a different list clears the mark.
func (r *Reader) badFile(d digest.Digest, bd *wire.BlockDigests) error {
	r.wholeMu.Lock()
	defer r.wholeMu.Unlock()
	if r.whole[d] != wholeBad {
		return nil
	}
	if r.badLists[d] == listSum(bd) {
		return ErrBadFile
	}
	delete(r.whole, d)
	delete(r.badLists, d)
	return nil
}

// hashFD returns the sha256 of bytes [0, size) of fd, read with pread (the
// descriptor's offset is not used and fd is not closed), or ctx's error.
func hashFD(ctx context.Context, fd int, size int64) (digest.Digest, error) {
	h := digest.New()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return digest.Digest{}, err
		}
		n, err := unix.Pread(fd, buf[:min(int64(len(buf)), size-off)], off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return digest.Digest{}, fmt.Errorf("pread at %d: %w", off, err)
		}
		if n == 0 {
			return digest.Digest{}, fmt.Errorf("file ends at %d of %d bytes", off, size)
		}
		h.Write(buf[:n])
		off += int64(n)
	}
	return digest.FromHash(h), nil
}

// wholeStats are the whole-file check counters of ReaderStats.
func (r *Reader) wholeStats(s *ReaderStats) {
	s.WholeChecks = r.st.wholeChecks.Load()
	s.WholeFailures = r.st.wholeFailures.Load()
	s.WholeBytes = r.st.wholeBytes.Load()
	s.WholeSeconds = float64(r.st.wholeNanos.Load()) / 1e9
}
