package simplestreams

import "testing"

func TestSelectionMatches(t *testing.T) {
	jammy := Product{OS: "ubuntu", Release: "jammy", Arch: "amd64", Subarch: "ga-22.04", Label: "stable"}
	noble := Product{OS: "ubuntu", Release: "noble", Arch: "arm64", Subarch: "hwe-24.04", Label: "candidate"}
	pxe := Product{OS: "pxelinux", Arch: "i386", BootloaderType: "pxe", Label: "stable"}
	grubArm := Product{OS: "grub-efi", Arch: "arm64", BootloaderType: "uefi", Label: "candidate"}

	cases := []struct {
		name string
		sel  Selection
		want map[*Product]bool
	}{
		{"zero value selects all", Selection{}, map[*Product]bool{&jammy: true, &noble: true, &pxe: true, &grubArm: true}},
		{"stars select all", Selection{OS: "*", Release: "*", Arches: []string{"*"}, Subarches: []string{"*"}, Labels: []string{"*"}},
			map[*Product]bool{&jammy: true, &noble: true, &pxe: true, &grubArm: true}},
		{"jammy amd64 stable", Selection{OS: "ubuntu", Release: "jammy", Arches: []string{"amd64"}, Subarches: []string{"*"}, Labels: []string{"stable"}},
			// pxe/i386 is selected although i386 is not asked for; grub's label differs.
			map[*Product]bool{&jammy: true, &noble: false, &pxe: true, &grubArm: false}},
		{"release mismatch", Selection{OS: "ubuntu", Release: "focal"}, map[*Product]bool{&jammy: false, &noble: false, &pxe: true, &grubArm: true}},
		{"os mismatch", Selection{OS: "centos"}, map[*Product]bool{&jammy: false, &noble: false, &pxe: true, &grubArm: true}},
		{"arch list", Selection{Arches: []string{"s390x", "arm64"}}, map[*Product]bool{&jammy: false, &noble: true, &pxe: true, &grubArm: true}},
		{"subarch list", Selection{Subarches: []string{"ga-22.04"}}, map[*Product]bool{&jammy: true, &noble: false, &pxe: true, &grubArm: true}},
		{"label list", Selection{Labels: []string{"candidate"}}, map[*Product]bool{&jammy: false, &noble: true, &pxe: false, &grubArm: true}},
	}
	for _, c := range cases {
		for p, want := range c.want {
			if got := c.sel.Matches(*p); got != want {
				t.Errorf("%s: Matches(%s/%s %s) = %v, want %v", c.name, p.OS, p.Release, p.Arch, got, want)
			}
		}
	}
}
