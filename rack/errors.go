package rack

import (
	"errors"
	"strings"
)

// noRegionError is ErrNoRegion with each region's error on a line of its
// own, which is what an operator reading mount(8)'s output needs.
type noRegionError struct {
	cause error // the client's error
}

func (e *noRegionError) Error() string {
	var b strings.Builder
	b.WriteString(ErrNoRegion.Error())
	b.WriteString(":")
	lines := regionErrors(e.cause)
	if len(lines) == 0 {
		b.WriteString(" " + e.cause.Error())
	}
	for _, l := range lines {
		b.WriteString("\n  " + l)
	}
	return b.String()
}

func (e *noRegionError) Unwrap() []error { return []error{ErrNoRegion, e.cause} }

// regionErrors finds, in the client's error, the joined list of per-region
// errors ("region URL: ...") and returns their texts, one line each.
func regionErrors(err error) []string {
	multi, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if u := errors.Unwrap(err); u != nil {
			return regionErrors(u)
		}
		return nil
	}
	var out []string
	for _, e := range multi.Unwrap() {
		if _, ok := e.(interface{ Unwrap() []error }); ok {
			out = append(out, regionErrors(e)...)
			continue
		}
		if s := e.Error(); strings.HasPrefix(s, "region ") {
			out = append(out, strings.ReplaceAll(strings.TrimPrefix(s, "region "), "\n", " "))
			continue
		}
		out = append(out, regionErrors(e)...)
	}
	return out
}
