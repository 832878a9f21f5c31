package simplestreams

import (
	"fmt"
	"net/url"
	"strings"
)

// ItemURL returns the URL of itemPath, a path relative to the mirror root
// mirrorRoot (with or without a trailing slash). It refuses, with
// ErrUnsafePath, any itemPath that could name something outside the root or
// be read as more than a path: empty paths, absolute paths, empty, "." and
// ".." segments, backslashes, percent signs (encoded escapes such as
// "%2e%2e"), a scheme-like first segment ("http:..."), query or fragment
// characters, and anything outside the characters simplestreams paths use
// (letters, digits and "-._~:+,=@/").
func ItemURL(mirrorRoot string, itemPath string) (string, error) {
	root, err := normalizeRoot(mirrorRoot)
	if err != nil {
		return "", err
	}
	if err := CheckPath(itemPath); err != nil {
		return "", err
	}
	return root + itemPath, nil
}

// normalizeRoot checks a mirror root URL and returns it with a trailing
// slash.
func normalizeRoot(mirrorRoot string) (string, error) {
	u, err := url.Parse(mirrorRoot)
	if err != nil {
		return "", fmt.Errorf("mirror root %q: %w", mirrorRoot, err)
	}
	if u.Scheme == "" || (u.Host == "" && u.Scheme != "file") {
		return "", fmt.Errorf("mirror root %q: not an absolute URL", mirrorRoot)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("mirror root %q: query, fragment or opaque part not allowed", mirrorRoot)
	}
	if !strings.HasSuffix(mirrorRoot, "/") {
		mirrorRoot += "/"
	}
	return mirrorRoot, nil
}

// CheckPath checks that p is a safe relative path under a mirror root, as
// ItemURL describes; the error wraps ErrUnsafePath.
func CheckPath(p string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %q: %s", ErrUnsafePath, p, why)
	}
	if p == "" {
		return bad("empty path")
	}
	if strings.HasPrefix(p, "/") {
		return bad("absolute path")
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			return bad("backslash")
		case c == '%':
			return bad("percent-encoding")
		case !pathChar(c):
			return bad(fmt.Sprintf("character %q", c))
		}
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		switch s {
		case "":
			return bad("empty segment")
		case ".", "..":
			return bad("dot segment")
		}
	}
	if strings.Contains(segs[0], ":") {
		return bad("looks like a URL scheme")
	}
	return nil
}

func pathChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:+,=@/", c) >= 0
}
