// Package pathrule holds the one rule for names that become path components
// of the boot tree. The region applies it where data enters (upstream
// simplestreams fields, bootloader names, uploaded image names, migrated
// rows) and the rack applies it again to every tree it receives, so a name
// the region accepts is always one the rack accepts, and a name the region
// would refuse can never reach a rack's mount.
//
// A component is refused when it is empty, "." or "..", longer than
// MaxComponent bytes, not valid UTF-8, or holds '/', '\\', NUL or another
// control character. A path is one or more components joined by single
// slashes, no longer than MaxPath bytes, neither absolute nor ending in a
// slash.
package pathrule

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxComponent is the longest component accepted, in bytes (NAME_MAX).
const MaxComponent = 255

// MaxPath is the longest path accepted, in bytes (PATH_MAX less the mount
// point's share, generously).
const MaxPath = 1024

// ErrInvalid is wrapped by every error this package returns.
var ErrInvalid = errors.New("invalid path")

// Component checks one path component; field names what it is (such as
// "release" or "item name") for the error, which wraps ErrInvalid and says
// what is wrong with the value.
func Component(field, c string) error {
	if why := componentProblem(c); why != "" {
		return fmt.Errorf("%w: %s %q: %s", ErrInvalid, field, c, why)
	}
	return nil
}

func componentProblem(c string) string {
	switch {
	case c == "":
		return "empty"
	case c == "." || c == "..":
		return "a dot component"
	case len(c) > MaxComponent:
		return fmt.Sprintf("longer than %d bytes", MaxComponent)
	case !utf8.ValidString(c):
		return "not valid UTF-8"
	}
	for _, r := range c {
		switch {
		case r == '/':
			return "contains '/'"
		case r == '\\':
			return "contains a backslash"
		case r == 0:
			return "contains a NUL byte"
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return fmt.Sprintf("contains control character %U", r)
		}
	}
	return ""
}

// Path checks a relative slash-separated path and returns its components.
// The error wraps ErrInvalid and names the offending component.
func Path(p string) ([]string, error) {
	switch {
	case p == "":
		return nil, fmt.Errorf("%w: empty path", ErrInvalid)
	case strings.HasPrefix(p, "/"):
		return nil, fmt.Errorf("%w: %q: absolute path", ErrInvalid, p)
	case len(p) > MaxPath:
		return nil, fmt.Errorf("%w: path longer than %d bytes", ErrInvalid, MaxPath)
	}
	comps := strings.Split(p, "/")
	for _, c := range comps {
		if why := componentProblem(c); why != "" {
			return nil, fmt.Errorf("%w: %q: component %q is %s", ErrInvalid, p, c, strings.TrimPrefix(why, "a "))
		}
	}
	return comps, nil
}

// Join checks each component (named by the matching field, or "component"
// when fields is shorter) and joins them with '/'.
func Join(fields []string, comps ...string) (string, error) {
	for i, c := range comps {
		f := "component"
		if i < len(fields) {
			f = fields[i]
		}
		if err := Component(f, c); err != nil {
			return "", err
		}
	}
	p := strings.Join(comps, "/")
	if len(p) > MaxPath {
		return "", fmt.Errorf("%w: path longer than %d bytes", ErrInvalid, MaxPath)
	}
	return p, nil
}
