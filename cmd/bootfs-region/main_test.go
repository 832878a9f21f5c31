package main

import (
	"testing"

	"github.com/bootfs/bootfs/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
