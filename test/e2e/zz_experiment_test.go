package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/bootfs/bootfs/internal/pgtest"
	"github.com/bootfs/bootfs/internal/regiontest"
)

func TestZZExperiment(t *testing.T) {
	if os.Getenv("BOOTFS_EXPERIMENT") == "" {
		t.Skip()
	}
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 1.2, Releases: []string{"jammy"}})
	r := regiontest.StartRegion(t, regiontest.Options{Name: "region1", DatabaseURL: pgtest.NewDatabase(t)})
	r.AddSource(t, m)
	if err := r.ImportNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile("/tmp/exp/region", []byte(r.URL()+"\n"+r.SecretFile+"\n"+r.Storage+"\n"), 0o644)
	for {
		if _, err := os.Stat("/tmp/exp/stop"); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
}
