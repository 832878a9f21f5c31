package httpapi

import (
	"strings"
	"testing"

	"github.com/bootfs/bootfs/region/db"
)

const mirror = "http://m/"

func imgSet(id int64, name, arch string) db.ImageSet {
	return db.ImageSet{ID: id, ResourceID: id, Name: name, Architecture: arch, Source: mirror, Label: "stable"}
}

func targetsOf(all []db.ImageSet, name, arch string) []db.ImageSet {
	var out []db.ImageSet
	for _, s := range all {
		if s.Name == name && archMatches(arch, s.Architecture) {
			out = append(out, s)
		}
	}
	return out
}

func TestNarrow(t *testing.T) {
	jammy := imgSet(1, "ubuntu/jammy", "amd64/ga-22.04")
	noble := imgSet(2, "ubuntu/noble", "amd64/ga-24.04")
	nobleArm := imgSet(3, "ubuntu/noble", "arm64/ga-24.04")
	nobleHWE := imgSet(4, "ubuntu/noble", "amd64/hwe-24.04")
	nobleArmHWE := imgSet(5, "ubuntu/noble", "arm64/hwe-24.04")
	centos := imgSet(6, "centos/centos70", "amd64/generic")
	grub := imgSet(7, "grub-efi-signed/uefi", "amd64/generic")
	grub.BootloaderType = "uefi"
	for _, c := range []struct {
		name       string
		sels       []db.Selection
		all        []db.ImageSet
		del, arch  string
		want, fail string
	}{
		{"a release out of ubuntu/*", []db.Selection{{OS: "ubuntu", Release: "*"}}, []db.ImageSet{jammy, noble},
			"ubuntu/noble", "", "ubuntu/jammy", ""},
		{"the only release", []db.Selection{{OS: "ubuntu", Release: "noble"}, {OS: "ubuntu", Release: "jammy"}},
			[]db.ImageSet{jammy, noble}, "ubuntu/noble", "", "ubuntu/jammy", ""},
		{"an arch", []db.Selection{{OS: "ubuntu", Release: "noble"}}, []db.ImageSet{noble, nobleArm},
			"ubuntu/noble", "amd64", "ubuntu/noble/arm64", ""},
		{"a subarch", []db.Selection{{OS: "ubuntu", Release: "noble", Arches: []string{"amd64"}}}, []db.ImageSet{noble, nobleHWE},
			"ubuntu/noble", "amd64/hwe-24.04", "ubuntu/noble/amd64/ga-24.04", ""},
		{"the last arch", []db.Selection{{OS: "ubuntu", Release: "*"}}, []db.ImageSet{jammy, noble},
			"ubuntu/noble", "amd64/ga-24.04", "ubuntu/jammy", ""},
		{"one of a cross product", []db.Selection{{OS: "ubuntu", Release: "noble"}},
			[]db.ImageSet{noble, nobleArm, nobleHWE, nobleArmHWE}, "ubuntu/noble", "amd64/hwe-24.04", "",
			"no selection of ubuntu/noble picks the other architectures (amd64/ga-24.04, arm64/ga-24.04, arm64/hwe-24.04) without it"},
		{"a wildcard beside an explicit row", []db.Selection{{OS: "*", Release: "*"}, {OS: "ubuntu", Release: "jammy", Arches: []string{"amd64"}}},
			[]db.ImageSet{jammy, noble, centos}, "ubuntu/noble", "", "centos/centos70 ubuntu/jammy/amd64", ""},
		{"unrelated selections stay", []db.Selection{{OS: "centos", Release: "*"}, {OS: "ubuntu", Release: "noble"}},
			[]db.ImageSet{noble, centos}, "ubuntu/noble", "", "centos/*", ""},
		{"a bootloader", []db.Selection{{OS: "ubuntu", Release: "*"}}, []db.ImageSet{jammy, grub},
			"grub-efi-signed/uefi", "", "", "bootloaders come with every selection"},
	} {
		src := db.Source{ID: 1, URL: mirror, Selections: c.sels}
		got, err := narrow(src, c.all, targetsOf(c.all, c.del, c.arch), c.arch != "")
		if c.fail != "" {
			if err == nil || !strings.Contains(err.Error(), c.fail) {
				t.Errorf("%s: %v, want an error with %q", c.name, err, c.fail)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if s := describeSelections(got); s != c.want {
			t.Errorf("%s: %s, want %s", c.name, s, c.want)
		}
		// Whatever the result, it picks none of the targets and every
		// other set it picked before.
		for _, s := range c.all {
			deleted := s.Name == c.del && archMatches(c.arch, s.Architecture)
			before := len(pickersOf(src, []db.ImageSet{s})) > 0
			after := len(pickersOf(db.Source{URL: mirror, Selections: got}, []db.ImageSet{s})) > 0
			if after && deleted || before && !deleted && !after {
				t.Errorf("%s: %s %s picked %v before, %v after", c.name, s.Name, s.Architecture, before, after)
			}
		}
	}
}
