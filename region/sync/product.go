package sync

import (
	"context"
	"fmt"
	"math"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// ProductError is a failure confined to one product (a resource set): one
// of its files could not be fetched or verified, or its archive could not
// be extracted. The run goes on with the other products; the product stays
// incomplete (so out of the tree) and is tried again by the next run.
type ProductError struct {
	Product      string // upstream product id, "" if unknown
	Resource     string // e.g. "ubuntu/jammy"
	Architecture string // e.g. "amd64/ga-22.04"
	Version      string
	File         string // the file that failed
	Err          error
}

func (e *ProductError) Error() string {
	return fmt.Sprintf("product %s %s %s: %s: %v", e.Resource, e.Architecture, e.Version, e.File, e.Err)
}

func (e *ProductError) Unwrap() error { return e.Err }

// ProductFailures lists the product failures in err (a tree of joined
// errors), and reports whether err holds anything else: a run whose only
// errors are product failures is done, not failed.
func ProductFailures(err error) (failures []wire.ProductFailure, other bool) {
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *ProductError:
			failures = append(failures, wire.ProductFailure{Product: e.Product, Resource: e.Resource,
				Architecture: e.Architecture, Version: e.Version, File: e.File, Reason: e.Err.Error()})
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		default:
			other = true
		}
	}
	walk(err)
	return failures, other
}

// productErrors turns the files that failed in this run into a failure of
// every product using them.
func (s *Syncer) productErrors(ctx context.Context, failed map[digest.Digest]error) []error {
	if len(failed) == 0 {
		return nil
	}
	shas := make([]digest.Digest, 0, len(failed))
	for d := range failed {
		shas = append(shas, d)
	}
	uses, err := s.cfg.DB.FilesUsing(ctx, shas)
	if err != nil {
		// Still report every failure, if not by product.
		errs := []error{fmt.Errorf("find the products of failed files: %w", err)}
		for _, e := range failed {
			errs = append(errs, e)
		}
		return errs
	}
	var errs []error
	named := map[digest.Digest]bool{}
	for _, u := range uses {
		named[u.SHA256] = true
		errs = append(errs, &ProductError{Product: u.Product, Resource: u.Resource, Architecture: u.Architecture,
			Version: u.Version, File: u.Filename, Err: failed[u.SHA256]})
	}
	for d, e := range failed {
		if !named[d] {
			errs = append(errs, e) // no set uses it any more
		}
	}
	return errs
}

// addSize adds a file's size to a running total, refusing a negative size
// or a sum past math.MaxInt64.
func addSize(total, size int64) (int64, bool) {
	if size < 0 || total > math.MaxInt64-size {
		return total, false
	}
	return total + size, true
}

// satAdd adds two non-negative int64s, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if s, ok := addSize(a, b); ok {
		return s
	}
	return math.MaxInt64
}
