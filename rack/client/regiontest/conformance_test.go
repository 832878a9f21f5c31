package regiontest_test

import (
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/internal/wire/wiretest"
	"github.com/bootfs/bootfs/rack/client/regiontest"
)

// TestConformance holds the fake region to the suite the real region passes
// (region TestAPIConformance), so rack tests run against the fake test what
// the real region does.
func TestConformance(t *testing.T) {
	r := regiontest.New(t, "fake-secret")
	data := make([]byte, 2*digest.BlockSize+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	small := []byte("a small file")
	d, ds := r.Add(data), r.Add(small)
	var gen atomic.Int64
	setTree := func() {
		g := gen.Add(1)
		r.SetTree(wire.Tree{Generation: "gen" + strconv.FormatInt(g, 10), Files: []wire.Entry{
			{Path: "ubuntu/amd64/ga-22.04/jammy/stable/squashfs", SHA256: d, Size: int64(len(data))},
			{Path: "bootx64.efi", SHA256: ds, Size: int64(len(small))},
		}})
	}
	setTree()
	wiretest.Test(t, wiretest.Target{URL: r.URL(), Secret: r.Secret, ChangeTree: func(*testing.T) { setTree() }})
}
