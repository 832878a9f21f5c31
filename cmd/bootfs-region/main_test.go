package main

import (
	"testing"

	"github.com/bootfs/bootfs/internal/pgtest"
)

// TestMain runs the tests with a real PostgreSQL for those that start a
// region (pgtest starts one when a test needs it).
func TestMain(m *testing.M) { pgtest.Main(m) }
