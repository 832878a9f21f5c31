package main

import (
	"testing"

	"github.com/bootfs/bootfs/internal/pgtest"
)

// TestMain lets tests start real regions (internal/regiontest) on a
// PostgreSQL of their own.
func TestMain(m *testing.M) { pgtest.Main(m) }
