package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// FetchBlock reads bytes [off, off+len(buf)) of file d into buf with a Range
// request, checks that their SHA-256 is want, and returns the URL of the
// region that served them. Regions are tried in health order, those in
// holders (region URLs, e.g. from the tree's Entry.Regions mapped through
// Tree.Regions) first; each is tried at most once per call. A region that
// fails is skipped and put in backoff. When none can serve the bytes the
// error wraps ErrUnavailable and every region's error (so errors.Is finds
// ErrUnauthorized or ErrCorrupt if a region answered so). If ctx ends, its
// error is returned. On error the contents of buf are undefined: never use
// them.
func (c *Client) FetchBlock(ctx context.Context, d digest.Digest, off int64, buf []byte, want digest.Digest, holders []string) (string, error) {
	return c.FetchBlockOf(ctx, d, off, buf, digest.SHA256, want, holders)
}

// FetchBlockOf is FetchBlock for a block digest want of algorithm algo
// (wire.BlockDigests.Algorithm: digest.BLAKE3, or digest.SHA256 or "").
func (c *Client) FetchBlockOf(ctx context.Context, d digest.Digest, off int64, buf []byte, algo string, want digest.Digest, holders []string) (string, error) {
	algo, err := digest.CheckAlgorithm(algo)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", d.Short(12), err)
	}
	if off < 0 || len(buf) == 0 {
		return "", fmt.Errorf("fetch %s: bad range: %d bytes at %d", d.Short(12), len(buf), off)
	}
	var errs []error
	for _, r := range c.order(holders) {
		err := c.fetchFrom(ctx, r, d, off, buf, algo, want)
		if err == nil {
			return r.url, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("fetch %s: %w", d.Short(12), context.Cause(ctx))
		}
		errs = append(errs, fmt.Errorf("region %s: %w", r.url, err))
	}
	return "", fmt.Errorf("fetch %s bytes %d-%d: %w: %w", d.Short(12), off, off+int64(len(buf))-1, ErrUnavailable, errors.Join(errs...))
}

// fetchFrom is FetchBlock against one region; it records the outcome in the
// region's health unless ctx ended.
func (c *Client) fetchFrom(ctx context.Context, r *region, d digest.Digest, off int64, buf []byte, algo string, want digest.Digest) error {
	start := time.Now()
	last := off + int64(len(buf)) - 1
	resp, err := c.get(ctx, r, wire.PathBlobs+d.String(), c.firstTimeout(r), "Range", "bytes="+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(last, 10))
	if err != nil {
		return c.fail(ctx, r, err, false)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if err := checkContentRange(resp.Header.Get("Content-Range"), off, last); err != nil {
			drainClose(resp.Body)
			return c.fail(ctx, r, err, false)
		}
	case http.StatusOK:
		if off != 0 {
			drainClose(resp.Body)
			return c.fail(ctx, r, errors.New("region ignored the Range header"), false)
		}
	default:
		err := statusError(resp)
		if errors.Is(err, ErrNotFound) {
			c.missed(r)
			return err
		}
		return c.fail(ctx, r, err, false)
	}
	n, err := io.ReadFull(resp.Body, buf)
	drainClose(resp.Body)
	if err != nil {
		return c.fail(ctx, r, fmt.Errorf("body cut after %d of %d bytes: %w", n, len(buf), err), false)
	}
	if got := digest.BlockSum(algo, buf); got != want {
		return c.fail(ctx, r, fmt.Errorf("%w: bytes %d-%d have %s %s, want %s", ErrCorrupt, off, last, algo, got.Short(12), want.Short(12)), true)
	}
	c.succeeded(r, int64(len(buf)), time.Since(start))
	return nil
}

// fail records err against r, unless it only happened because ctx ended,
// and returns it.
func (c *Client) fail(ctx context.Context, r *region, err error, corrupt bool) error {
	if ctx.Err() == nil {
		c.failed(r, err, corrupt)
	}
	return err
}

// checkContentRange checks that a "bytes a-b/size" header is exactly the
// range asked.
func checkContentRange(h string, first, last int64) error {
	spec, ok := strings.CutPrefix(h, "bytes ")
	rng, _, ok2 := strings.Cut(spec, "/")
	a, b, ok3 := strings.Cut(rng, "-")
	if ok && ok2 && ok3 && a == strconv.FormatInt(first, 10) && b == strconv.FormatInt(last, 10) {
		return nil
	}
	return fmt.Errorf("region answered range %q to bytes %d-%d", h, first, last)
}
