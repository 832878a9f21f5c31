package simplestreams

import "slices"

// Selection chooses which products of a source to import, like a MAAS boot
// source selection. An empty field, or a list holding "*", matches anything.
//
// The rule for bootloaders: a bootloader product is selected whenever
// Labels matches its label; OS, Release, Arches and Subarches are ignored
// for it. A bootloader has no release, and its arch is the firmware's, not
// the machine's (amd64 machines booting in BIOS mode load pxelinux for
// i386), so filtering it by the image arches would drop bootloaders the
// selected images need. Bootloaders are small; taking all of them is what
// lets every selected image boot.
type Selection struct {
	OS        string
	Release   string
	Arches    []string
	Subarches []string
	Labels    []string
}

// Matches reports whether s selects p.
func (s Selection) Matches(p Product) bool {
	if !matchList(s.Labels, p.Label) {
		return false
	}
	if p.IsBootloader() {
		return true
	}
	return matchOne(s.OS, p.OS) &&
		matchOne(s.Release, p.Release) &&
		matchList(s.Arches, p.Arch) &&
		matchList(s.Subarches, p.Subarch)
}

func matchOne(want, got string) bool {
	return want == "" || want == "*" || want == got
}

func matchList(want []string, got string) bool {
	return len(want) == 0 || slices.Contains(want, "*") || slices.Contains(want, got)
}
