package upload

import (
	"errors"
	"testing"
)

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"myimage":         "custom/myimage",
		"custom/myimage":  "custom/myimage",
		"rhel/9":          "rhel/9",
		"windows/win2016": "windows/win2016",
		"centos/centos70": "centos/centos70",
	} {
		if got, err := Name(in); err != nil || got != want {
			t.Errorf("Name(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/x", "x/", "a/b/c", "..", "custom/..", "a\x00b", "x/\\y"} {
		if got, err := Name(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Name(%q) = %q, %v; want ErrInvalid", bad, got, err)
		}
	}
}

// TestFilename: MAAS's BOOT_RESOURCE_FILE_TYPE names by filetype.
func TestFilename(t *testing.T) {
	want := map[string]string{
		"": "root-tgz", "tgz": "root-tgz", "tbz": "root-tbz", "txz": "root-txz",
		"ddtgz": "root-dd", "ddtbz": "root-dd.tar.bz2", "ddtxz": "root-dd.tar.xz", "ddtar": "root-dd.tar",
		"ddbz2": "root-dd.bz2", "ddgz": "root-dd.gz", "ddxz": "root-dd.xz", "ddraw": "root-dd.raw",
	}
	for ft, w := range want {
		if got, err := Filename(ft); err != nil || got != w {
			t.Errorf("Filename(%q) = %q, %v; want %q", ft, got, err, w)
		}
	}
	if len(Filetypes) != len(want)-1 {
		t.Errorf("Filetypes has %d entries, %d named", len(Filetypes), len(want)-1)
	}
	if _, err := Filename("zip"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Filename(zip) = %v", err)
	}
}

func TestArchitecture(t *testing.T) {
	if _, err := Architecture("amd64/generic"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"amd64", "amd64/", "/generic", "a/b/c", "../x"} {
		if _, err := Architecture(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Architecture(%q) = %v", bad, err)
		}
	}
}
