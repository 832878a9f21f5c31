package region_test

import (
	"context"
	"testing"

	"github.com/bootfs/bootfs/internal/regiontest"
	"github.com/bootfs/bootfs/internal/wire/wiretest"
)

// TestAPIConformance runs the wire API conformance suite against a real
// region (region/httpapi over a real store and PostgreSQL, its tree from a
// real import); the fake region of the rack's tests passes the same suite
// (rack/client/regiontest TestConformance).
func TestAPIConformance(t *testing.T) {
	m := regiontest.NewMirror(t, regiontest.MirrorOptions{Scale: 0.004})
	r := regiontest.StartRegion(t, regiontest.Options{})
	r.AddSource(t, m)
	if err := r.ImportNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	wiretest.Test(t, wiretest.Target{URL: r.URL(), Secret: r.Secret, ChangeTree: func(t *testing.T) {
		m.Regenerate(t, regiontest.MirrorOptions{Version: "20250201", Scale: 0.004})
		r.AddSource(t, m) // the dev mirror signs each run with a new key
		if err := r.ImportNow(context.Background()); err != nil {
			t.Fatal(err)
		}
	}})
}
