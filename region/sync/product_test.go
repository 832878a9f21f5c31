package sync

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestAddSizeRefusesOverflow(t *testing.T) {
	for _, c := range []struct {
		total, size, want int64
		ok                bool
	}{
		{0, 5, 5, true},
		{math.MaxInt64 - 5, 5, math.MaxInt64, true},
		{math.MaxInt64 - 5, 6, math.MaxInt64 - 5, false},
		{1 << 40, math.MaxInt64, 1 << 40, false},
		{10, -1, 10, false},
	} {
		got, ok := addSize(c.total, c.size)
		if got != c.want || ok != c.ok {
			t.Errorf("addSize(%d, %d) = %d, %v; want %d, %v", c.total, c.size, got, ok, c.want, c.ok)
		}
	}
	if got := satAdd(math.MaxInt64, 100<<20); got != math.MaxInt64 {
		t.Errorf("satAdd saturates at %d, want MaxInt64", got)
	}
}

func TestProductFailuresSeparatesRunFailures(t *testing.T) {
	pe := &ProductError{Resource: "ubuntu/noble", Architecture: "amd64/ga-24.04", Version: "1", File: "boot-initrd", Err: errors.New("404")}
	fails, other := ProductFailures(errors.Join(nil, pe, errors.Join(pe)))
	if other || len(fails) != 2 || fails[0].Resource != "ubuntu/noble" || fails[0].Reason != "404" {
		t.Errorf("product errors only: %+v, other %v", fails, other)
	}
	fails, other = ProductFailures(errors.Join(pe, fmt.Errorf("source x: %w", errors.New("unreachable"))))
	if !other || len(fails) != 1 {
		t.Errorf("with a source failure: %+v, other %v; want the product and other", fails, other)
	}
	if fails, other := ProductFailures(nil); other || fails != nil {
		t.Errorf("nil: %+v, %v", fails, other)
	}
}
