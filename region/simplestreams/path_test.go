package simplestreams

import (
	"errors"
	"testing"
)

func TestItemURL(t *testing.T) {
	good := []struct{ root, path, want string }{
		{"http://images.maas.io/ephemeral-v3/stable/", "jammy/amd64/20250718/squashfs",
			"http://images.maas.io/ephemeral-v3/stable/jammy/amd64/20250718/squashfs"},
		{"http://images.maas.io/ephemeral-v3/stable", "jammy/amd64/20250718/ga-22.04/generic/boot-kernel",
			"http://images.maas.io/ephemeral-v3/stable/jammy/amd64/20250718/ga-22.04/generic/boot-kernel"},
		{"https://m:8443/", "streams/v1/com.ubuntu.maas:stable:v3:download.sjson",
			"https://m:8443/streams/v1/com.ubuntu.maas:stable:v3:download.sjson"},
		{"file:///srv/mirror", "bootloaders/uefi/amd64/20210819.0/shim-signed.tar.xz",
			"file:///srv/mirror/bootloaders/uefi/amd64/20210819.0/shim-signed.tar.xz"},
		{"http://h/", "a/b..c/.hidden/x~1+2,3=4@5", "http://h/a/b..c/.hidden/x~1+2,3=4@5"},
	}
	for _, c := range good {
		got, err := ItemURL(c.root, c.path)
		if err != nil || got != c.want {
			t.Errorf("ItemURL(%q, %q) = %q, %v; want %q", c.root, c.path, got, err, c.want)
		}
	}
	unsafe := []string{
		"", "/etc/passwd", "..", "../x", "a/../../x", "a/..", "./a", "a/./b", "a//b", "a/",
		`a\..\b`, `..\x`, "%2e%2e/x", "a/%2fetc", "http://evil/x", "http:x", "//evil/x",
		"a?b", "a#b", "a b", "a\x00b", "a\nb", "ä",
	}
	for _, p := range unsafe {
		if got, err := ItemURL("http://h/root/", p); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("ItemURL(%q) = %q, %v; want ErrUnsafePath", p, got, err)
		}
	}
	for _, root := range []string{"", "relative/path", "http://h/?q", "http://h/#f", "mailto:x@y", "http:///x"} {
		if got, err := ItemURL(root, "a"); err == nil {
			t.Errorf("ItemURL root %q accepted: %q", root, got)
		}
	}
}
