package region_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/version"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/region"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/httpapi"
)

func regionRow(t *testing.T, d *db.DB, name string) db.Region {
	t.Helper()
	regs, err := d.Regions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regs {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no region %q in %+v", name, regs)
	return db.Region{}
}

// TestSameNameWhileLiveIsRefused: a second region started with the name of
// a heartbeating one is refused with the live one's URL, and the live one
// keeps its registration and holdings.
func TestSameNameWhileLiveIsRefused(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{})
	dbURL := pgtest.NewDatabase(t)
	r1 := regiontest.StartRegion(t, regiontest.Options{Name: "r1", DatabaseURL: dbURL})
	r1.AddSource(t, m)
	ctx := context.Background()
	if err := r1.ImportNow(ctx); err != nil {
		t.Fatal(err)
	}
	held, err := r1.DB().Held(ctx, r1.ID())
	if err != nil || len(held) == 0 {
		t.Fatalf("r1 holds %d files (%v)", len(held), err)
	}

	_, err = region.Open(ctx, region.Config{
		Name: "r1", DatabaseURL: dbURL, Listen: "127.0.0.1:0", Storage: filepath.Join(t.TempDir(), "store"),
		SecretFile: r1.SecretFile, ImportInterval: -1, VerifyRate: -1,
	})
	if !errors.Is(err, db.ErrNameInUse) || !strings.Contains(err.Error(), r1.URL()) {
		t.Fatalf("second region with a live region's name: %v; want ErrNameInUse naming %s", err, r1.URL())
	}
	t.Logf("refused: %v", err)
	row := regionRow(t, r1.DB(), "r1")
	if row.URL != r1.URL() || row.ID != r1.ID() {
		t.Errorf("registration changed to %+v", row)
	}
	after, err := r1.DB().Held(ctx, r1.ID())
	if err != nil || len(after) != len(held) {
		t.Errorf("r1 holds %d files after the refused start, had %d (%v)", len(after), len(held), err)
	}
	// r1 still heartbeats.
	before := row.LastHeartbeat
	regiontest.Eventually(t, 10*time.Second, "r1 heartbeating", func() bool {
		return regionRow(t, r1.DB(), "r1").LastHeartbeat.After(before)
	})
}

// TestCleanStopMarksDownAndFreesName: a region that stops cleanly is down
// at once for everyone (status, tree), and its name can be used again at
// once, also from another store.
func TestCleanStopMarksDownAndFreesName(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	r1 := regiontest.StartRegion(t, regiontest.Options{Name: "r1", DatabaseURL: dbURL})
	r2 := regiontest.StartRegion(t, regiontest.Options{Name: "r2", DatabaseURL: dbURL, SecretFile: r1.SecretFile,
		Config: func(c *region.Config) { c.AliveWindow = time.Hour }})
	r1.Stop()
	row := regionRow(t, r2.DB(), "r1")
	if row.Stopped.IsZero() {
		t.Fatalf("r1 not marked stopped: %+v", row)
	}
	// r2 (alive window an hour) sees r1 down now, not in an hour.
	var st wire.Status
	if err := decode(r2.Get(t, wire.PathStatus, nil), &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Regions {
		if r.Name == "r1" && (r.Alive || r.Stopped == nil) {
			t.Errorf("status shows the stopped r1 as %+v", r)
		}
	}
	regiontest.Eventually(t, 20*time.Second, "r2's tree showing r1 down", func() bool {
		for _, r := range r2.Tree(t).Regions {
			if r.Name == "r1" {
				return !r.Alive
			}
		}
		return false
	})
	// The name is free: a region on another store takes it at once.
	r3 := regiontest.StartRegion(t, regiontest.Options{Name: "r1", DatabaseURL: dbURL, SecretFile: r1.SecretFile})
	if r3.ID() != r1.ID() {
		t.Errorf("the restarted r1 got id %d, was %d", r3.ID(), r1.ID())
	}
	if row := regionRow(t, r2.DB(), "r1"); !row.Stopped.IsZero() || row.URL != r3.URL() {
		t.Errorf("after restart: %+v", row)
	}
}

// TestRestartAfterCrashTakesNameBack: a region that died without stopping
// (its row still looks live) takes its own name back at once when it
// restarts on the same store.
func TestRestartAfterCrashTakesNameBack(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	storage := filepath.Join(t.TempDir(), "store")
	r1 := regiontest.StartRegion(t, regiontest.Options{Name: "r1", DatabaseURL: dbURL, Storage: storage})
	url1 := r1.URL()
	// A crash: the row keeps its recent heartbeat and no stop mark.
	ctx := context.Background()
	r1.Stop()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE region SET stopped = NULL, last_heartbeat = now() WHERE name = 'r1'`); err != nil {
		t.Fatal(err)
	}
	r2 := regiontest.StartRegion(t, regiontest.Options{Name: "r1", DatabaseURL: dbURL, Storage: storage, SecretFile: r1.SecretFile})
	if row := regionRow(t, r2.DB(), "r1"); row.URL != r2.URL() || row.URL == url1 {
		t.Errorf("restart on the same store did not take the name back: %+v", row)
	}
}

// TestStatusShowsVersionsAndWarnsOnMix: each region records its version;
// status shows it and warns while live regions differ.
func TestStatusShowsVersionsAndWarnsOnMix(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	r1 := regiontest.StartRegion(t, regiontest.Options{Name: "r1", DatabaseURL: dbURL})
	r2 := regiontest.StartRegion(t, regiontest.Options{Name: "r2", DatabaseURL: dbURL, SecretFile: r1.SecretFile})
	status := func() wire.Status {
		var st wire.Status
		if err := decode(r1.Get(t, wire.PathStatus, nil), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	mix := func(st wire.Status) *wire.Banner {
		for _, b := range st.Banners {
			if b.Kind == httpapi.BannerVersionMix {
				return &b
			}
		}
		return nil
	}
	var st wire.Status
	regiontest.Eventually(t, 30*time.Second, "both regions in status", func() bool {
		st = status()
		return len(st.Regions) == 2 && st.Regions[0].Alive && st.Regions[1].Alive
	})
	for _, r := range st.Regions {
		if r.Version != version.String() {
			t.Errorf("region %s version %q, want %q", r.Name, r.Version, version.String())
		}
	}
	if b := mix(st); b != nil {
		t.Errorf("version-mix banner with one version: %+v", b)
	}
	// r2 "runs" another build.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE region SET version = 'v9.9.9' WHERE name = 'r2'`); err != nil {
		t.Fatal(err)
	}
	b := mix(status())
	if b == nil || !strings.Contains(b.Message, "v9.9.9 on r2") || !strings.Contains(b.Message, version.String()+" on r1") {
		t.Fatalf("version-mix banner = %+v", b)
	}
	// The HTML page shows it too.
	if page := string(body(t, r1.Get(t, "/", nil))); !strings.Contains(page, "v9.9.9") || !strings.Contains(page, "live regions run different versions") {
		t.Errorf("page lacks the versions or the warning")
	}
	// A stopped region does not count.
	r2.Stop()
	if b := mix(status()); b != nil {
		t.Errorf("version-mix banner with r2 stopped: %+v", b)
	}
}
