package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// BlockDigests returns the per-block SHA-256 list of file d. Lists are
// memoised (the most recently used Options.DigestCache of them) and
// concurrent calls for one file share one request. The list is checked to
// describe d with digest.BlockSize blocks, one digest per block of its size
// (ErrCorrupt otherwise). The result is shared: do not modify it.
func (c *Client) BlockDigests(ctx context.Context, d digest.Digest) (*wire.BlockDigests, error) {
	if bd, ok := c.digests.Get(d); ok {
		return bd, nil
	}
	// The request runs detached from ctx so that one caller giving up does
	// not fail the others sharing it; the stall watchdog bounds it.
	ch := c.flights.DoChan(d.String(), func() (any, error) {
		if bd, ok := c.digests.Get(d); ok {
			return bd, nil
		}
		bd, err := c.fetchDigests(context.WithoutCancel(ctx), d)
		if err != nil {
			return nil, err
		}
		c.digests.Add(d, bd)
		return bd, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*wire.BlockDigests), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("block digests of %s: %w", d.Short(12), context.Cause(ctx))
	}
}

// ForgetDigests drops the memoised block digest list of d, if any: the next
// BlockDigests asks a region again.
func (c *Client) ForgetDigests(d digest.Digest) { c.digests.Remove(d) }

func (c *Client) fetchDigests(ctx context.Context, d digest.Digest) (*wire.BlockDigests, error) {
	var errs []error
	for _, r := range c.order(nil) {
		bd, err := c.digestsFrom(ctx, r, d)
		if err == nil {
			return bd, nil
		}
		errs = append(errs, fmt.Errorf("region %s: %w", r.url, err))
	}
	return nil, fmt.Errorf("block digests of %s: %w: %w", d.Short(12), ErrUnavailable, errors.Join(errs...))
}

func (c *Client) digestsFrom(ctx context.Context, r *region, d digest.Digest) (*wire.BlockDigests, error) {
	// Announce BLAKE3: a region answers a client that does not with
	// SHA-256 block digests.
	resp, err := c.get(ctx, r, wire.PathBlobs+d.String()+"/blocks?"+wire.BlockAlgorithmsParam+"="+digest.BLAKE3, c.firstTimeout(r))
	if err != nil {
		return nil, c.fail(ctx, r, err, false)
	}
	if resp.StatusCode != http.StatusOK {
		err := statusError(resp)
		if errors.Is(err, ErrNotFound) {
			c.missed(r)
			return nil, err
		}
		return nil, c.fail(ctx, r, err, false)
	}
	defer drainClose(resp.Body)
	var bd wire.BlockDigests
	// 32 MiB is about 400,000 blocks' worth of JSON: a 400 GiB file.
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&bd); err != nil {
		return nil, c.fail(ctx, r, fmt.Errorf("decoding block digests: %w", err), false)
	}
	if err := checkDigests(&bd, d); err != nil {
		return nil, c.fail(ctx, r, err, true)
	}
	c.succeeded(r, 0, 0)
	return &bd, nil
}

// checkDigests checks that bd is a block list for d of the expected shape,
// of a known algorithm (which it names canonically: "" is SHA-256).
func checkDigests(bd *wire.BlockDigests, d digest.Digest) error {
	algo, err := digest.CheckAlgorithm(bd.Algorithm)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	bd.Algorithm = algo
	switch want := digest.BlockCount(bd.Size, digest.BlockSize); {
	case bd.SHA256 != d:
		return fmt.Errorf("%w: block digests are for %s", ErrCorrupt, bd.SHA256.Short(12))
	case bd.BlockSize != digest.BlockSize:
		return fmt.Errorf("%w: block size %d, want %d", ErrCorrupt, bd.BlockSize, digest.BlockSize)
	case bd.Size < 0 || int64(len(bd.Blocks)) != want:
		return fmt.Errorf("%w: %d block digests for %d bytes, want %d", ErrCorrupt, len(bd.Blocks), bd.Size, want)
	}
	return nil
}
