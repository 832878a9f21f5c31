package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// errStalled is the cause of a request cut by the stall watchdog.
var errStalled = errors.New("stalled")

// get sends GET region+path with the secret and the header pairs in hdr. The
// response header must arrive within first; then the body must make progress
// at least every c.stall, or the request is cancelled. The caller closes the
// body. Any status is returned as is; see statusError.
func (c *Client) get(ctx context.Context, r *region, path string, first time.Duration, hdr ...string) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(first, func() { cancel(errStalled) })
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url+path, nil)
	if err != nil {
		timer.Stop()
		cancel(nil)
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.secret)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		timer.Stop()
		stalled := context.Cause(ctx) == errStalled
		cancel(nil)
		if stalled {
			return nil, fmt.Errorf("no response within %s: %w", first, errStalled)
		}
		return nil, err
	}
	timer.Reset(c.stall)
	resp.Body = &watchedBody{rc: resp.Body, ctx: ctx, cancel: cancel, timer: timer, stall: c.stall}
	return resp, nil
}

// watchedBody re-arms the stall timer whenever bytes arrive and explains a
// cut made by it.
type watchedBody struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	stall  time.Duration
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.stall)
	}
	if err != nil && err != io.EOF && context.Cause(b.ctx) == errStalled {
		err = fmt.Errorf("no data for %s: %w", b.stall, errStalled)
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}

// drainClose reads a little of what is left of body, so that the
// connection can be reused, and closes it.
func drainClose(body io.ReadCloser) {
	io.CopyN(io.Discard, body, 64<<10)
	body.Close()
}

// statusError turns an unexpected status into an error: ErrUnauthorized for
// 401 and 403, ErrNotFound for 404, else the status and the start of the
// body. It closes the body.
func statusError(resp *http.Response) error {
	defer drainClose(resp.Body)
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("HTTP %s: %w", resp.Status, ErrUnauthorized)
	case http.StatusNotFound:
		return fmt.Errorf("HTTP %s: %w", resp.Status, ErrNotFound)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	msg := strings.TrimSpace(string(b))
	if msg == "" {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return fmt.Errorf("HTTP %s: %s", resp.Status, msg)
}
