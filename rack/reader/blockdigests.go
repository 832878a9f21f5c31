package reader

import (
	"context"
	"errors"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/rack/client"
)

// blockDigests returns the block digest list of d: from memory, else from
// the DigestStore, else from a region (then saved in the store, so that the
// file's cached blocks stay readable through a restart with no region).
func (r *Reader) blockDigests(ctx context.Context, d digest.Digest) (*wire.BlockDigests, error) {
	if bd := r.knownDigests(d); bd != nil {
		return bd, nil
	}
	if r.store != nil {
		if bd := r.store.Load(d); bd != nil {
			r.known.Add(d, bd)
			return bd, nil
		}
	}
	if err := r.recentFailure(d); err != nil {
		return nil, err
	}
	bd, err := r.cl.BlockDigests(ctx, d)
	if err != nil {
		if errors.Is(err, client.ErrUnavailable) {
			r.noteFailure(d, err)
		}
		return nil, err
	}
	if r.store != nil {
		if err := r.store.Save(bd); err != nil {
			r.log.Warn("cannot store a file's block digests; its cached blocks will need a region after a restart", "sha256", d.String(), "err", err)
		}
	}
	r.known.Add(d, bd)
	return bd, nil
}

// failMemory is how long a file whose block digest list no region could
// serve fails its reads at once: the kernel retries a failed read (a
// readahead, then the page itself), and while every region is down each
// retry would wait for the regions again.
const failMemory = time.Second

// digestFailure is a recent failure to get a file's block digest list.
type digestFailure struct {
	at  time.Time
	err error
}

func (r *Reader) recentFailure(d digest.Digest) error {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	f, ok := r.failed[d]
	if !ok {
		return nil
	}
	if time.Since(f.at) > failMemory {
		delete(r.failed, d)
		return nil
	}
	return f.err
}

func (r *Reader) noteFailure(d digest.Digest, err error) {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	if len(r.failed) > 4096 { // bound it; entries live a second anyway
		clear(r.failed)
	}
	r.failed[d] = digestFailure{at: time.Now(), err: err}
}

func (r *Reader) knownDigests(d digest.Digest) *wire.BlockDigests {
	bd, _ := r.known.Get(d)
	return bd
}

func (r *Reader) forgetDigests(d digest.Digest) {
	r.known.Remove(d)
	r.cl.ForgetDigests(d)
	if r.store != nil {
		r.store.Forget(d)
	}
}
