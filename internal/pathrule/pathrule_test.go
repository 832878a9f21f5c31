package pathrule

import (
	"errors"
	"strings"
	"testing"
)

func TestComponent(t *testing.T) {
	good := []string{"ubuntu", "amd64", "ga-24.04", "20240101.1", "boot-kernel", "bootx64.efi", "win2016", "img with space", "ünïcode"}
	for _, c := range good {
		if err := Component("f", c); err != nil {
			t.Errorf("Component(%q) = %v, want nil", c, err)
		}
	}
	bad := []string{"", ".", "..", "a/b", "../x", `a\b`, "a\x00b", "a\nb", "a\x7fb", "\xff", strings.Repeat("x", MaxComponent+1)}
	for _, c := range bad {
		err := Component("release", c)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Component(%q) = %v, want ErrInvalid", c, err)
			continue
		}
		if !strings.Contains(err.Error(), "release") {
			t.Errorf("error %q does not name the field", err)
		}
	}
}

func TestPath(t *testing.T) {
	comps, err := Path("ubuntu/amd64/ga-24.04/noble/stable/boot-kernel")
	if err != nil || len(comps) != 6 {
		t.Fatalf("Path = %v, %v", comps, err)
	}
	for _, p := range []string{"", "/abs", "a//b", "a/", "a/../b", "./a", "a/\x00", strings.Repeat("a/", MaxPath)} {
		if _, err := Path(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("Path(%q) = %v, want ErrInvalid", p, err)
		}
	}
}

func TestJoin(t *testing.T) {
	p, err := Join([]string{"os", "release"}, "ubuntu", "noble")
	if err != nil || p != "ubuntu/noble" {
		t.Fatalf("Join = %q, %v", p, err)
	}
	if _, err := Join([]string{"os", "release"}, "ubuntu", "../../x"); err == nil || !strings.Contains(err.Error(), "release") {
		t.Fatalf("Join with a bad release = %v", err)
	}
}

// FuzzPath holds Path and Component to one rule: a path is accepted exactly
// when every component is, and an accepted path splits back into itself.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"ubuntu/amd64/ga-24.04/noble/stable/boot-kernel", "../x", "a//b", "", "/", "a\x00b", "bootx64.efi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		comps, err := Path(p)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if strings.Join(comps, "/") != p {
			t.Fatalf("components %q do not join back to %q", comps, p)
		}
		for _, c := range comps {
			if err := Component("c", c); err != nil {
				t.Fatalf("Path accepted %q but Component refuses %q: %v", p, c, err)
			}
		}
	})
}
