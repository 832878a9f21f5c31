package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/bootfs/bootfs/internal/digest"
)

// copyAhead is how many blocks CopyTo reads and hashes ahead of the one it
// writes, each on its own goroutine: hashing (SHA-256 about 1.4 GB/s a
// core, BLAKE3 about 3.4 GB/s) would otherwise bound serving well below
// what the network takes.
const copyAhead = 3

// Verified is a stored blob opened for serving. Every byte it returns was
// hashed, a block at a time, against the block digests recorded when the
// blob was ingested, just before it was returned. The first block that
// does not match quarantines the file (see Quarantine), and every later
// call fails with an error wrapping ErrCorrupt: the caller must cut its
// response and have the blob fetched again.
//
// It is an io.ReadSeeker (for http.ServeContent) and has CopyTo, the fast
// path that reads and hashes blocks ahead on other goroutines. It is not
// safe for concurrent use.
type Verified struct {
	d      *Disk
	dg     digest.Digest
	f      *os.File
	fi     os.FileInfo
	size   int64
	bs     int64
	algo   string // of blocks: digest.BLAKE3 or digest.SHA256
	blocks []digest.Digest

	off    int64  // the Read/Seek position
	buf    []byte // holds block cur, verified (Read's own, never pooled)
	cur    int64  // -1: buf holds nothing
	curLen int

	// mu guards err: http.ServeContent may leave a multi-part copy
	// goroutine in Read after it returns (when the client went away).
	mu  sync.Mutex
	err error // sticky: wraps ErrCorrupt once a block failed
}

// OpenVerified opens blob dg for verified reading, given its size and block
// digests (of algorithm algo, digest.BLAKE3 or digest.SHA256) as recorded
// at ingest. ErrNotFound if it is not stored. A stored file of another
// size is quarantined at once and ErrCorrupt returned. Block digests that
// do not fit size, or of an unknown algorithm, give a plain error (the
// record is wrong, not the file). The caller closes the Verified.
func (d *Disk) OpenVerified(dg digest.Digest, size, blockSize int64, algo string, blocks []digest.Digest) (*Verified, error) {
	if blockSize <= 0 || int64(len(blocks)) != digest.BlockCount(size, blockSize) {
		return nil, fmt.Errorf("block digests of %s: %d digests of %d bytes do not cover %d bytes", dg, len(blocks), blockSize, size)
	}
	algo, err := digest.CheckAlgorithm(algo)
	if err != nil {
		return nil, fmt.Errorf("block digests of %s: %w", dg, err)
	}
	f, err := d.Open(dg)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat blob: %w", err)
	}
	v := &Verified{d: d, dg: dg, f: f, fi: fi, size: size, bs: blockSize, algo: algo, blocks: blocks, cur: -1}
	if fi.Size() != size {
		v.fail(fmt.Sprintf("stored file %s has %d bytes, %d recorded", dg, fi.Size(), size))
		f.Close()
		return nil, v.Err()
	}
	return v, nil
}

// Size is the blob's size.
func (v *Verified) Size() int64 { return v.size }

// Err is the corruption found so far (wrapping ErrCorrupt), or nil.
func (v *Verified) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// Close closes the file. A Read still running elsewhere then fails; it
// uses a buffer of its own, never one another request may get.
func (v *Verified) Close() error { return v.f.Close() }

// Seek implements io.Seeker.
func (v *Verified) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += v.off
	case io.SeekEnd:
		offset += v.size
	default:
		return 0, errors.New("store: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("store: negative position")
	}
	v.off = offset
	return offset, nil
}

// Read implements io.Reader, returning only verified bytes.
func (v *Verified) Read(p []byte) (int, error) {
	if err := v.Err(); err != nil {
		return 0, err
	}
	if v.off >= v.size {
		return 0, io.EOF
	}
	blk := v.off / v.bs
	if err := v.load(blk); err != nil {
		return 0, err
	}
	n := copy(p, v.buf[v.off-blk*v.bs:v.curLen])
	v.off += int64(n)
	return n, nil
}

// load makes buf hold block blk, verified.
func (v *Verified) load(blk int64) error {
	if v.cur == blk {
		return nil
	}
	if v.buf == nil {
		v.buf = make([]byte, v.bs)
	}
	v.cur = -1
	n, err := v.readBlock(blk, v.buf)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			v.fail(reasonOf(err))
			return v.Err()
		}
		return err
	}
	v.cur, v.curLen = blk, n
	return nil
}

// readBlock reads block blk into buf and checks its digest. A mismatch
// (or a file shorter than recorded) gives an error wrapping ErrCorrupt; it
// does not quarantine (fail does).
func (v *Verified) readBlock(blk int64, buf []byte) (int, error) {
	start := blk * v.bs
	n := int(min(v.bs, v.size-start))
	got, err := v.f.ReadAt(buf[:n], start)
	if got < n {
		if err == nil || errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("%w: block %d of %s: the file ends at %d bytes", ErrCorrupt, blk, v.dg, start+int64(got))
		}
		return 0, fmt.Errorf("reading block %d of %s: %w", blk, v.dg, err)
	}
	if sum := digest.BlockSum(v.algo, buf[:n]); sum != v.blocks[blk] {
		return 0, fmt.Errorf("%w: block %d of %s hashes to %s %s, %s recorded", ErrCorrupt, blk, v.dg, v.algo, sum, v.blocks[blk])
	}
	return n, nil
}

// reasonOf is a corruption error's message without the ErrCorrupt prefix.
func reasonOf(err error) string {
	return strings.TrimPrefix(err.Error(), ErrCorrupt.Error()+": ")
}

// fail quarantines the blob (unless it was replaced meanwhile) and makes
// every later call return an error wrapping ErrCorrupt.
func (v *Verified) fail(reason string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		return
	}
	v.err = fmt.Errorf("%w: %s", ErrCorrupt, reason)
	if err := v.d.quarantine(v.dg, "read while serving: "+reason, v.fi); err != nil && !errors.Is(err, ErrNotFound) {
		v.d.log.Error("quarantine of a damaged blob failed", "sha256", v.dg, "err", err)
	}
}

func (v *Verified) getBlockBuf() *[]byte {
	if v.bs == copyBufSize {
		return getBuf()
	}
	b := make([]byte, v.bs)
	return &b
}

func (v *Verified) putBlockBuf(b *[]byte) {
	if v.bs == copyBufSize {
		putBuf(b)
	}
}

// block is one block read and hashed ahead by CopyTo.
type block struct {
	buf  *[]byte
	n    int
	err  error
	done chan struct{}
}

// CopyTo writes the n bytes from the current position to w, one Write per
// block, reading and hashing up to copyAhead blocks ahead in parallel. It
// stops at the first block that fails verification (then the error wraps
// ErrCorrupt and the blob is quarantined) or the first write error.
func (v *Verified) CopyTo(w io.Writer, n int64) (int64, error) {
	if err := v.Err(); err != nil {
		return 0, err
	}
	n = max(0, min(n, v.size-v.off))
	if n == 0 {
		return 0, nil
	}
	end := v.off + n
	first, last := v.off/v.bs, (end-1)/v.bs
	if first == last { // one block: no goroutines
		b := v.getBlockBuf()
		defer v.putBlockBuf(b)
		if _, err := v.readBlock(first, *b); err != nil {
			if errors.Is(err, ErrCorrupt) {
				v.fail(reasonOf(err))
				return 0, v.Err()
			}
			return 0, err
		}
		m, err := w.Write((*b)[v.off-first*v.bs : end-first*v.bs])
		v.off += int64(m)
		return int64(m), err
	}
	var pending []*block
	next := first
	defer func() {
		for _, b := range pending {
			<-b.done
			v.putBlockBuf(b.buf)
		}
	}()
	var written int64
	for blk := first; blk <= last; blk++ {
		for next <= last && len(pending) <= copyAhead {
			b := &block{buf: v.getBlockBuf(), done: make(chan struct{})}
			go func(blk int64) {
				defer close(b.done)
				b.n, b.err = v.readBlock(blk, *b.buf)
			}(next)
			next++
			pending = append(pending, b)
		}
		b := pending[0]
		pending = pending[1:]
		<-b.done
		if b.err != nil {
			v.putBlockBuf(b.buf)
			if errors.Is(b.err, ErrCorrupt) {
				v.fail(reasonOf(b.err))
				return written, v.Err()
			}
			return written, b.err
		}
		base := blk * v.bs
		m, err := w.Write((*b.buf)[v.off-base : min(int64(b.n), end-base)])
		v.putBlockBuf(b.buf)
		written += int64(m)
		v.off += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
