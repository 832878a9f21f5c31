// Package testskip is the one way a bootfs test skips for want of something
// the machine lacks: root, /dev/fuse, QEMU, tftpd-hpa, a tmpfs, PostgreSQL
// server binaries, a page cache that can be dropped.
//
// Locally such a test skips and says why. In CI it must not: .ci/run sets
// BOOTFS_TEST_REQUIRE_ALL=1, and then Skip fails the test instead, so a green
// CI run means the FUSE, end-to-end, corruption and boot tests really ran.
//
// A test that skips for a reason unrelated to the machine (a -short run, a
// feature off by design) keeps calling t.Skip.
package testskip

import (
	"fmt"
	"os"
	"testing"
)

// EnvRequireAll is the variable that turns every Skip into a failure when
// it is "1" (or "true").
const EnvRequireAll = "BOOTFS_TEST_REQUIRE_ALL"

// Required reports whether skips are failures in this run.
func Required() bool {
	switch os.Getenv(EnvRequireAll) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// Skip skips t saying why, or, when Required, fails it at once with the same
// reason and a note on how to provide what is missing.
func Skip(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (%s is set, so this cannot skip: install what is missing, e.g. scripts/install-deps.sh, and run as root)", why, EnvRequireAll+"="+os.Getenv(EnvRequireAll))
	}
	t.Skip(why)
}

// Skipf is Skip with a format.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	Skip(t, fmt.Sprintf(format, args...))
}
