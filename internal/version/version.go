// Package version says which build of bootfs is running. `make build`
// stamps Version with `git describe` through -ldflags; a binary built
// without it (go build, go test) reports the module version or VCS
// revision from its build info, or "devel".
package version

import (
	"runtime/debug"
	"sync"
)

// Version is set by the linker:
//
//	-ldflags "-X github.com/bootfs/bootfs/internal/version.Version=$(git describe --tags --always --dirty)"
var Version string

var once sync.Once
var resolved string

// String returns the running build's version.
func String() string {
	once.Do(func() {
		resolved = Version
		if resolved != "" {
			return
		}
		resolved = "devel"
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			resolved = v
			return
		}
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			resolved = "devel-" + rev + dirty
		}
	})
	return resolved
}
