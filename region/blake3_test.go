package region_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region"
	"github.com/bootfs/bootfs/region/db"
	"github.com/jackc/pgx/v5"
)

// blockDigests GETs the block digests of d, announcing BLAKE3 or not, and
// checks them against the stored bytes want; it returns their algorithm.
func blockDigests(t *testing.T, r *regiontest.Region, d digest.Digest, want []byte, blake3 bool) string {
	t.Helper()
	path := wire.PathBlobs + d.String() + "/blocks"
	if blake3 {
		path += "?" + wire.BlockAlgorithmsParam + "=" + digest.BLAKE3
	}
	code, b, err := fetch(t, r, path, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", path, code, err)
	}
	var bd wire.BlockDigests
	if err := json.Unmarshal(b, &bd); err != nil {
		t.Fatal(err)
	}
	h := digest.NewHasherOf(bd.Algorithm, digest.BlockSize)
	h.Write(want)
	whole, blocks := h.Sum()
	if bd.SHA256 != whole || len(bd.Blocks) != len(blocks) {
		t.Fatalf("GET %s: %d %s block digests of %s, want %d of %s", path, len(bd.Blocks), bd.Algorithm, bd.SHA256, len(blocks), whole)
	}
	for i := range blocks {
		if bd.Blocks[i] != blocks[i] {
			t.Fatalf("GET %s: %s digest of block %d is wrong", path, bd.Algorithm, i)
		}
	}
	return bd.Algorithm
}

// TestBLAKE3Conversion: a region ingests with BLAKE3 block digests and
// serves SHA-256 ones (hashed once, then recorded) to a client that does
// not announce BLAKE3. A store whose files have SHA-256 block digests only
// (ingested by an earlier release) is converted by the background
// verifier at its bounded rate, and meanwhile every file is served right,
// with either kind of digests.
func TestBLAKE3Conversion(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.005})
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	ctx := context.Background()
	if err := r.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	held, err := r.DB().Held(ctx, r.ID())
	if err != nil || len(held) < 3 {
		t.Fatalf("held: %d files, %v", len(held), err)
	}
	data := map[digest.Digest][]byte{}
	var total int64
	for d := range held {
		b, err := os.ReadFile(filepath.Join(r.Storage, d.String()))
		if err != nil {
			t.Fatal(err)
		}
		data[d] = b
		total += int64(len(b))
		if _, err := r.DB().BlockDigestsOf(ctx, d, digest.BLAKE3); err != nil {
			t.Fatalf("%s: no BLAKE3 block digests after import: %v", d.Short(12), err)
		}
		if _, err := r.DB().BlockDigestsOf(ctx, d, digest.SHA256); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("%s: SHA-256 block digests after import: %v, want none", d.Short(12), err)
		}
	}
	// An old client gets SHA-256 digests, hashed now and then recorded; a
	// new one BLAKE3 ones.
	var one digest.Digest
	for d := range held {
		one = d
		break
	}
	if a := blockDigests(t, r, one, data[one], false); a != digest.SHA256 {
		t.Fatalf("a client not announcing BLAKE3 got %s block digests", a)
	}
	if _, err := r.DB().BlockDigestsOf(ctx, one, digest.SHA256); err != nil {
		t.Fatalf("SHA-256 block digests hashed for an old client were not recorded: %v", err)
	}
	if a := blockDigests(t, r, one, data[one], true); a != digest.BLAKE3 {
		t.Fatalf("a client announcing BLAKE3 got %s block digests", a)
	}
	r.Stop()

	// The store as an earlier release left it: SHA-256 block digests only.
	conn, err := pgx.Connect(ctx, r.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for d, b := range data {
		h := digest.NewHasherOf(digest.SHA256, digest.BlockSize)
		h.Write(b)
		_, blocks := h.Sum()
		if _, err := conn.Exec(ctx, `UPDATE blob SET block_blake3 = NULL, block_size = $2, block_digests = $3 WHERE sha256 = $1`,
			d.String(), digest.BlockSize, digest.EncodeBlocks(blocks)); err != nil {
			t.Fatal(err)
		}
	}
	// Converted by the verifier at a rate that takes about 3 s.
	rate := total / 3
	start := time.Now()
	r2 := regiontest.StartRegion(t, regiontest.Options{DatabaseURL: r.DBURL, Storage: r.Storage, SecretFile: r.SecretFile,
		Config: func(c *region.Config) { c.VerifyRate = rate; c.VerifyInterval = time.Hour }})
	converted := func() int {
		n := 0
		for d := range data {
			if _, err := r2.DB().BlockDigestsOf(ctx, d, digest.BLAKE3); err == nil {
				n++
			}
		}
		return n
	}
	if n := converted(); n == len(data) {
		t.Fatalf("all %d files converted at once, at %d bytes/s", n, rate)
	}
	sawSHA256 := false
	for converted() < len(data) {
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("%d of %d files converted after 2 minutes", converted(), len(data))
		}
		// Meanwhile every file is served right, with its digests of either
		// kind, to old and new clients.
		for d, b := range data {
			if blockDigests(t, r2, d, b, true) == digest.SHA256 {
				sawSHA256 = true
			}
			if a := blockDigests(t, r2, d, b, false); a != digest.SHA256 {
				t.Fatalf("an old client got %s block digests", a)
			}
			code, got, err := fetch(t, r2, wire.PathBlobs+d.String(), nil)
			if err != nil || code != http.StatusOK || digest.Of(got) != d {
				t.Fatalf("serving %s during the conversion: %d, %d bytes, %v", d.Short(12), code, len(got), err)
			}
		}
	}
	took := time.Since(start)
	if !sawSHA256 {
		t.Errorf("no file was served with SHA-256 block digests before its conversion")
	}
	// Bounded: the verifier read every byte at most at rate (a little
	// slack for the pacer's start).
	if min := time.Duration(float64(total) / float64(rate) * 0.8 * float64(time.Second)); took < min {
		t.Errorf("converted %d bytes in %s, faster than %d bytes/s allows (%s)", total, took, rate, min)
	}
	t.Logf("converted %d files, %d bytes, in %s at %d bytes/s", len(data), total, took.Round(time.Millisecond), rate)
	for d, b := range data {
		if a := blockDigests(t, r2, d, b, true); a != digest.BLAKE3 {
			t.Errorf("%s: %s block digests after the conversion", d.Short(12), a)
		}
		if q, _ := os.ReadDir(filepath.Join(r.Storage, ".quarantine")); len(q) != 0 {
			t.Fatalf("%d files quarantined", len(q))
		}
	}
}
