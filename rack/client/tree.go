package client

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/bootfs/bootfs/internal/wire"
)

// maxTreeBytes bounds the JSON of a tree (a real one is well under 10 MiB).
const maxTreeBytes = 64 << 20

// Tree fetches the boot tree. With etag "" it is unconditional; otherwise
// it returns (nil, etag, nil) when the tree still has that ETag. With wait
// > 0 the region holds the request until the tree changes or wait runs out
// (a long-poll). The returned etag is what to pass next time. Regions are
// tried in health order; the error wraps ErrUnavailable (and
// ErrUnauthorized if a region refused the secret) when none answered.
func (c *Client) Tree(ctx context.Context, etag string, wait time.Duration) (*wire.Tree, string, error) {
	path := wire.PathTree
	if wait > 0 {
		path += "?wait=" + url.QueryEscape(wait.String())
	}
	var errs []error
	for _, r := range c.order(nil) {
		t, tag, err := c.treeFrom(ctx, r, path, etag, wait)
		if err == nil {
			return t, tag, nil
		}
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("tree: %w", context.Cause(ctx))
		}
		errs = append(errs, fmt.Errorf("region %s: %w", r.url, err))
	}
	return nil, "", fmt.Errorf("tree: %w: %w", ErrUnavailable, errors.Join(errs...))
}

func (c *Client) treeFrom(ctx context.Context, r *region, path, etag string, wait time.Duration) (*wire.Tree, string, error) {
	// The tree is JSON of some 15 MB at 10,000 images; gzipped about 7x
	// smaller. A region of an earlier release ignores the header.
	hdr := []string{"Accept-Encoding", "gzip"}
	if etag != "" {
		hdr = append(hdr, "If-None-Match", etag)
	}
	resp, err := c.get(ctx, r, path, c.stall+wait, hdr...)
	if err != nil {
		if wait == 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// A plain tree request must answer at once: a caller's
			// deadline running out (Start's offline_after) counts
			// against the region, so that reads then probe it briefly.
			c.failed(r, err, false)
			return nil, "", err
		}
		return nil, "", c.fail(ctx, r, err, false)
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		drainClose(resp.Body)
		c.succeeded(r, 0, 0)
		if tag := resp.Header.Get("ETag"); tag != "" {
			return nil, tag, nil
		}
		return nil, etag, nil
	case http.StatusOK:
	default:
		return nil, "", c.fail(ctx, r, statusError(resp), false)
	}
	defer drainClose(resp.Body)
	// maxTreeBytes bounds what is read from the network and, gzipped, what
	// it decodes to.
	var body io.Reader = io.LimitReader(resp.Body, maxTreeBytes)
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, "", c.fail(ctx, r, fmt.Errorf("decoding tree: %w", err), false)
		}
		zr.Multistream(false)
		body = io.LimitReader(zr, maxTreeBytes)
	}
	var t wire.Tree
	dec := json.NewDecoder(body)
	if err := dec.Decode(&t); err != nil {
		return nil, "", c.fail(ctx, r, fmt.Errorf("decoding tree: %w", err), false)
	}
	// Read to the end: gzip checks its CRC and length only there, and
	// nothing may follow the tree.
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the tree")
		}
		return nil, "", c.fail(ctx, r, fmt.Errorf("decoding tree: %w", err), false)
	}
	c.succeeded(r, 0, 0)
	tag := resp.Header.Get("ETag")
	if tag == "" {
		tag = t.Generation
	}
	return &t, tag, nil
}
