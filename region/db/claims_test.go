package db_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bootfs/bootfs/region/db"
)

// TestClaimRace: two regions race for the upstream download of one blob
// from many connections at once; exactly one region wins, every claim of
// the other fails, and the winner's repeated claims renew it.
func TestClaimRace(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	a, b := registerRegion(t, d, "a"), registerRegion(t, d, "b")
	for round := range 5 {
		_, ds := recordSet(t, d, "ubuntu/jammy", "v"+string(rune('0'+round)), "kernel of round "+string(rune('0'+round)))
		sha := ds[0]
		var wg sync.WaitGroup
		var mu sync.Mutex // guards won
		won := map[int64]int{}
		start := make(chan struct{})
		for i := range 16 {
			region := []int64{a, b}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := d.Claim(ctx, region, sha, "http://upstream/x", time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					won[region]++
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("round %d: claims won by regions %v, want exactly one region", round, won)
		}
		claims, err := d.Claims(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var held []db.ClaimInfo
		for _, c := range claims {
			if c.SHA256 == sha {
				held = append(held, c)
			}
		}
		if len(held) != 1 || !held[0].Live {
			t.Fatalf("round %d: claims on the blob: %+v, want one live claim", round, held)
		}
		for winner := range won {
			if want := map[int64]string{a: "region-a", b: "region-b"}[winner]; held[0].Region != want {
				t.Fatalf("round %d: claim listed for %s, won by %s", round, held[0].Region, want)
			}
		}
	}
}

// TestClaimExpiryAndTakeover: a claim whose holder stops renewing expires,
// another region takes it over, and the old holder then learns it lost it
// (renewing fails, releasing does not drop the new holder's claim).
func TestClaimExpiryAndTakeover(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	a, b := registerRegion(t, d, "a"), registerRegion(t, d, "b")
	_, ds := recordSet(t, d, "ubuntu/noble", "1", "squashfs")
	sha := ds[0]

	if ok, err := d.Claim(ctx, a, sha, "http://up/a", 700*time.Millisecond); err != nil || !ok {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	if ok, err := d.Claim(ctx, b, sha, "http://up/b", time.Minute); err != nil || ok {
		t.Fatalf("claim over a live claim: %v, %v; want refused", ok, err)
	}
	if ok, err := d.Claim(ctx, a, sha, "http://up/a", 700*time.Millisecond); err != nil || !ok {
		t.Fatalf("the holder claiming again (renewal): %v, %v", ok, err)
	}
	if err := d.RenewClaim(ctx, a, sha, 700*time.Millisecond); err != nil {
		t.Fatalf("renew by the holder: %v", err)
	}
	if err := d.RenewClaim(ctx, b, sha, time.Minute); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("renew by a region that does not hold it: %v, want ErrNotFound", err)
	}

	time.Sleep(1200 * time.Millisecond) // a stops renewing: its claim expires
	claims, err := d.Claims(ctx)
	if err != nil || len(claims) != 1 || claims[0].Live {
		t.Fatalf("after expiry: claims %+v, %v; want one expired claim", claims, err)
	}
	if ok, err := d.Claim(ctx, b, sha, "http://up/b", time.Minute); err != nil || !ok {
		t.Fatalf("takeover of an expired claim: %v, %v", ok, err)
	}
	if err := d.RenewClaim(ctx, a, sha, time.Minute); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("the old holder renewing after the takeover: %v, want ErrNotFound", err)
	}
	if err := d.ReleaseClaim(ctx, a, sha); err != nil {
		t.Fatal(err)
	}
	claims, err = d.Claims(ctx)
	if err != nil || len(claims) != 1 || claims[0].Region != "region-b" || !claims[0].Live || claims[0].Source != "http://up/b" {
		t.Fatalf("after the old holder released: %+v, %v; want region-b's live claim", claims, err)
	}
	if err := d.ReleaseClaim(ctx, b, sha); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.Claim(ctx, a, sha, "http://up/a", time.Minute); err != nil || !ok {
		t.Fatalf("claim after release: %v, %v", ok, err)
	}
}
