package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/bootfs/bootfs/internal/digest"
)

// writebackChunk is how many written bytes accumulate before Write asks the
// kernel to start writing them out, so Commit's fsync does not have to
// flush the whole file at once.
const writebackChunk = 8 << 20

var (
	_ io.Writer     = (*Pending)(nil)
	_ io.ReaderFrom = (*Pending)(nil)
)

// errFinished is returned by a Pending used after Commit, Discard or Abort,
// or after an error that ended it.
var errFinished = errors.New("store: pending write already finished")

// Pending is one blob being written, started by Begin. It is not safe for
// concurrent use. It ends with exactly one of Commit, Abort or Discard
// (calling Abort or Discard after the end is a harmless no-op, so
// "defer p.Abort()" is the usual pattern). A Write or Commit that returns
// ErrCorrupt or ErrNoSpace has already ended it and removed the partial.
type Pending struct {
	d    *Disk
	want digest.Digest
	size int64
	path string
	f    *os.File
	h    *digest.Hasher
	n    int64 // bytes in the partial file, all of them hashed by h
	// flushed is how many bytes were handed to startWriteback.
	flushed int64
	// err is a sticky I/O error from Write; Commit refuses after one.
	err  error
	done bool
	// dropOnError makes Commit remove the partial file after an I/O error
	// instead of keeping it for a resume (Put wants nothing left behind).
	dropOnError bool
}

// Begin starts or resumes writing blob want of size bytes. If a partial
// file for want exists (left by Abort, by a failed Write or by a killed
// process), its bytes are re-hashed and kept, and Offset tells the caller
// where to continue (an HTTP Range request from there); a partial longer
// than size is thrown away. The bytes of a partial are never trusted: if
// they were wrong, Commit's sha256 check fails.
//
// Only one writer at a time may hold a digest: if another Pending for want
// is open in this process, or another process holds the partial file's
// flock, Begin returns ErrBusy at once (it never waits).
func (d *Disk) Begin(want digest.Digest, size int64) (*Pending, error) {
	return d.begin(want, size, true)
}

// begin is Begin; with resume false an existing partial is truncated
// instead of re-hashed.
func (d *Disk) begin(want digest.Digest, size int64, resume bool) (*Pending, error) {
	if size < 0 {
		return nil, fmt.Errorf("begin blob %s: negative size %d", want, size)
	}
	if !d.claim(want) {
		return nil, fmt.Errorf("%w: %s (in this process)", ErrBusy, want)
	}
	p := &Pending{d: d, want: want, size: size, path: d.partialPath(want), h: digest.NewHasher(digest.BlockSize)}
	if err := p.open(resume); err != nil {
		if p.f != nil {
			p.f.Close()
		}
		d.release(want)
		return nil, err
	}
	p.flushed = p.n
	return p, nil
}

// open opens and locks the partial file and hashes what it holds.
func (p *Pending) open(resume bool) error {
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(p.path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return p.d.wrapWriteErr(p.want, fmt.Errorf("opening partial file: %w", err))
		}
		p.f = f
		ok, err := tryLock(f)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s (partial file locked by another process)", ErrBusy, p.want)
		}
		// The holder before us may have renamed or removed the file between
		// our open and our lock; then we locked a file that has no partial
		// name any more and must start over.
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("stat partial file: %w", err)
		}
		onDisk, err := os.Stat(p.path)
		if err == nil && os.SameFile(fi, onDisk) {
			p.n = fi.Size()
			break
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stat partial file: %w", err)
		}
		if attempt == 3 {
			return fmt.Errorf("%w: %s (partial file keeps being replaced by another process)", ErrBusy, p.want)
		}
		f.Close()
		p.f = nil
	}
	if p.n > p.size {
		p.d.log.Info("partial file longer than the blob; starting over",
			"sha256", p.want, "have", p.n, "size", p.size)
	}
	if !resume || p.n > p.size {
		if err := p.f.Truncate(0); err != nil {
			return fmt.Errorf("truncating partial file: %w", err)
		}
		p.n = 0
		return nil
	}
	if p.n == 0 {
		return nil
	}
	buf := getBuf()
	defer putBuf(buf)
	got, err := io.CopyBuffer(p.h, io.LimitReader(p.f, p.n), *buf)
	if err != nil {
		return fmt.Errorf("re-hashing partial file %s: %w", p.path, err)
	}
	if got != p.n {
		return fmt.Errorf("re-hashing partial file %s: read %d bytes of %d", p.path, got, p.n)
	}
	if _, err := p.f.Seek(p.n, io.SeekStart); err != nil {
		return fmt.Errorf("seeking partial file: %w", err)
	}
	p.d.log.Debug("resuming partial file", "sha256", p.want, "offset", p.n, "size", p.size)
	return nil
}

// Offset returns how many bytes the partial file holds; right after Begin
// it is where the caller's data must continue.
func (p *Pending) Offset() int64 { return p.n }

// Write appends b to the blob and hashes it. Writing past the size given to
// Begin is refused whole with ErrCorrupt (and ends the Pending); a full
// filesystem gives ErrNoSpace (and ends it too).
func (p *Pending) Write(b []byte) (int, error) {
	if p.done {
		return 0, errFinished
	}
	if p.err != nil {
		return 0, p.err
	}
	if int64(len(b)) > p.size-p.n {
		err := fmt.Errorf("%w: %s: %d bytes more at offset %d exceed the size %d",
			ErrCorrupt, p.want, len(b), p.n, p.size)
		return 0, p.corrupt(err)
	}
	// The file write and the block hashes run here, the whole-file hash
	// beside them. If the write falls short, the whole hash is ahead of the
	// file, but then the Pending can no longer commit, and a resume
	// re-hashes the file.
	var m int
	var err error
	p.h.Alongside(b, func() int {
		m, err = p.f.Write(b)
		return m
	})
	p.n += int64(m)
	p.d.m.written(m)
	if err != nil {
		if isNoSpace(err) {
			return m, p.noSpace(err)
		}
		p.err = fmt.Errorf("writing blob %s: %w", p.want, err)
		return m, p.err
	}
	if p.n-p.flushed >= writebackChunk {
		startWriteback(p.f, p.flushed, p.n-p.flushed)
		p.flushed = p.n
	}
	return m, nil
}

// ReadFrom writes what r yields until EOF, through a 1 MiB buffer, so that
// io.Copy(p, body) makes large writes (which hash on two cores) instead of
// io.Copy's default 32 KiB ones. Errors are those of Write and of r.
func (p *Pending) ReadFrom(r io.Reader) (int64, error) {
	buf := getBuf()
	defer putBuf(buf)
	// The wrappers hide io.WriterTo and this very method from CopyBuffer.
	return io.CopyBuffer(struct{ io.Writer }{p}, struct{ io.Reader }{r}, *buf)
}

// Commit checks the size and the sha256, fsyncs the file, gives it its
// final name and fsyncs the directory. It returns the digests of each
// digest.BlockSize block, for the caller to store. A mismatch removes the
// partial file and returns ErrCorrupt. Commit always ends the Pending.
// After a failed Write or rename the partial file is kept for a later
// resume (removed if the Pending came from Put); after a failed fsync it
// is removed, since its bytes can no longer be trusted.
func (p *Pending) Commit() ([]digest.Digest, error) {
	if p.done {
		return nil, errFinished
	}
	if p.err != nil {
		return nil, errors.Join(p.err, p.finish(p.dropOnError))
	}
	if p.n != p.size {
		return nil, p.corrupt(fmt.Errorf("%w: %s: got %d bytes, want %d", ErrCorrupt, p.want, p.n, p.size))
	}
	whole, blocks := p.h.Sum()
	if whole != p.want {
		return nil, p.corrupt(fmt.Errorf("%w: got sha256 %s, want %s", ErrCorrupt, whole, p.want))
	}
	if err := p.f.Sync(); err != nil {
		// After a failed fsync the page cache may not match the disk:
		// nothing of this file can be trusted, not even for a resume.
		if isNoSpace(err) {
			return nil, p.noSpace(err)
		}
		return nil, errors.Join(fmt.Errorf("fsync blob %s: %w", p.want, err), p.finish(true))
	}
	// Rename while still holding the flock, so no other process can lock
	// the partial name and write into what is now the final file.
	if err := os.Rename(p.path, p.d.Path(p.want)); err != nil {
		return nil, errors.Join(fmt.Errorf("renaming blob %s: %w", p.want, err), p.finish(p.dropOnError))
	}
	p.d.committed(p.want, p.size)
	closeErr := p.finish(false)
	if err := syncDir(p.d.dir); err != nil {
		return nil, fmt.Errorf("blob %s renamed but not durable: %w", p.want, err)
	}
	if closeErr != nil {
		return nil, fmt.Errorf("closing blob %s: %w", p.want, closeErr)
	}
	return blocks, nil
}

// Abort ends the Pending and keeps the partial file, so a later Begin
// resumes it (an interrupted transfer).
func (p *Pending) Abort() error { return p.finish(false) }

// Discard ends the Pending and removes the partial file.
func (p *Pending) Discard() error { return p.finish(true) }

// corrupt ends the Pending, removing the partial, and returns err.
func (p *Pending) corrupt(err error) error {
	p.d.m.corrupted()
	return errors.Join(err, p.finish(true))
}

// noSpace ends the Pending, removing the partial, and returns ErrNoSpace.
func (p *Pending) noSpace(err error) error {
	return errors.Join(p.d.wrapWriteErr(p.want, err), p.finish(true))
}

func (p *Pending) finish(remove bool) error {
	if p.done {
		return nil
	}
	p.done = true
	var err error
	if remove {
		if e := os.Remove(p.path); e != nil && !errors.Is(e, fs.ErrNotExist) {
			err = fmt.Errorf("removing partial file: %w", e)
		}
	}
	if e := p.f.Close(); e != nil && err == nil {
		err = e
	}
	p.d.release(p.want)
	return err
}

// wrapWriteErr turns ENOSPC into ErrNoSpace naming the store directory.
func (d *Disk) wrapWriteErr(dg digest.Digest, err error) error {
	if isNoSpace(err) {
		return fmt.Errorf("writing blob %s in %s: %w: %w", dg.Short(12), d.dir, ErrNoSpace, err)
	}
	return err
}
