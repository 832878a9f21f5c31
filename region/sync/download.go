package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/region/store"
)

// Download fetches url into the store as blob d of size bytes, resuming a
// partial file with Range and retrying interrupted transfers. header, if
// set, decorates each request (peer copies add the shared secret). It
// returns the block digests computed on the way in.
func Download(ctx context.Context, hc *http.Client, st *store.Disk, d digest.Digest, size int64, url string,
	header http.Header, retries int, progress func(done int64), m *Metrics) ([]digest.Digest, error) {
	var lastErr error
	wait := retryBackoff()
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait.NextBackOff()):
			}
			if m != nil {
				m.Resumes.Inc()
			}
		}
		blocks, retry, err := downloadOnce(ctx, hc, st, d, size, url, header, progress, m)
		if err == nil {
			return blocks, nil
		}
		if !retry || ctx.Err() != nil {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("gave up after %d attempts: %w", retries+1, lastErr)
}

// stallTimeout is how long a download may go without receiving a byte.
var stallTimeout = 60 * time.Second

var errStalled = errors.New("no data received for a while: transfer stalled")

// retryBackoff is the wait before each resumed attempt: 0.5s, doubling up
// to 15s (cenkalti/backoff, the one retry scheme of the region and rack).
func retryBackoff() backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(500*time.Millisecond),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0),
		backoff.WithMaxInterval(15*time.Second),
		backoff.WithMaxElapsedTime(0),
	)
}

// downloadOnce makes one request. retry reports whether the failure was a
// transfer problem worth resuming (not a verification failure).
func downloadOnce(ctx context.Context, hc *http.Client, st *store.Disk, d digest.Digest, size int64, url string,
	header http.Header, progress func(int64), m *Metrics) (blocks []digest.Digest, retry bool, err error) {
	p, err := st.Begin(d, size)
	if err != nil {
		return nil, errors.Is(err, store.ErrBusy), err
	}
	committed := false
	defer func() {
		if !committed {
			_ = p.Abort() // keep what we have: the next attempt resumes from it
		}
	}()
	off := p.Offset()
	if off < size {
		// A server that stops sending mid-body must not hold the download
		// (and its claim) forever: cancel when no byte arrives for stall.
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		watchdog := time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
		defer watchdog.Stop()
		resp, retry, err := get(ctx, hc, url, header, off)
		if err != nil {
			return nil, retry, err
		}
		defer resp.Body.Close()
		switch {
		case off > 0 && resp.StatusCode == http.StatusOK:
			// The server ignored Range: start again from byte 0.
			committed = true // Discard below; nothing left to abort
			if err := p.Discard(); err != nil {
				return nil, true, err
			}
			return nil, true, fmt.Errorf("GET %s: server ignored Range; restarting from byte 0", url)
		case off > 0 && resp.StatusCode != http.StatusPartialContent:
			return nil, resp.StatusCode >= 500, fmt.Errorf("GET %s (from byte %d): %s", url, off, resp.Status)
		case off == 0 && resp.StatusCode != http.StatusOK:
			return nil, resp.StatusCode >= 500 || resp.StatusCode == 429, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if retry, err := copyBody(ctx, watchdog, resp.Body, p, off, size, url, progress, m); err != nil {
			return nil, retry, err
		}
	}
	committed = true
	blocks, err = p.Commit()
	if err != nil {
		return nil, false, err
	}
	return blocks, false, nil
}

// get requests url from byte off on. retry reports whether a failure is
// worth another attempt.
func get(ctx context.Context, hc *http.Client, url string, header http.Header, off int64) (_ *http.Response, retry bool, _ error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, true, err
	}
	return resp, false, nil
}

// copyBody writes body, which starts at byte off of the blob, to p, feeding
// the stall watchdog with each read. It fails if body ends before size
// bytes; retry reports whether the failure was a transfer problem.
func copyBody(ctx context.Context, watchdog *time.Timer, body io.Reader, p *store.Pending, off, size int64, url string,
	progress func(int64), m *Metrics) (retry bool, err error) {
	buf := make([]byte, 1<<20)
	done := off
	for {
		n, rerr := body.Read(buf)
		watchdog.Reset(stallTimeout)
		if n > 0 {
			if _, err := p.Write(buf[:n]); err != nil {
				return !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, store.ErrNoSpace), err
			}
			done += int64(n)
			if m != nil {
				m.Bytes.Add(float64(n))
			}
			if progress != nil {
				progress(done)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if c := context.Cause(ctx); errors.Is(c, errStalled) {
				rerr = c
			}
			return true, fmt.Errorf("GET %s: after %d of %d bytes: %w", url, done, size, rerr)
		}
	}
	if done < size {
		return true, fmt.Errorf("GET %s: body ended after %d of %d bytes", url, done, size)
	}
	return false, nil
}
