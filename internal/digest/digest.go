// Package digest defines the content address used everywhere in bootfs: the
// SHA-256 of a file's bytes. A Digest is a value type, usable as a map key,
// and marshals as 64 lowercase hex characters in JSON and text.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// Size is the length of a Digest in bytes.
const Size = sha256.Size

// Digest is the SHA-256 of some content.
type Digest [Size]byte

// ErrMalformed is returned by Parse for anything that is not 64 hex digits.
var ErrMalformed = errors.New("malformed sha256")

// Parse reads 64 hex characters (either case) into a Digest.
func Parse(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*Size {
		return d, fmt.Errorf("%w: %q has %d characters, want 64", ErrMalformed, truncate(s), len(s))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("%w: %q: %v", ErrMalformed, truncate(s), err)
	}
	return d, nil
}

// MustParse is Parse for constants in tests; it panics on error.
func MustParse(s string) Digest {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Of returns the digest of b.
func Of(b []byte) Digest { return Digest(sha256.Sum256(b)) }

// OfFile returns the digest and size of the file at path.
func OfFile(path string) (Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return Digest{}, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Digest{}, 0, fmt.Errorf("read %s: %w", path, err)
	}
	return FromHash(h), n, nil
}

// New returns a hash.Hash whose Sum can be turned into a Digest with FromHash.
func New() hash.Hash { return sha256.New() }

// FromHash returns the current sum of a SHA-256 hash as a Digest.
func FromHash(h hash.Hash) Digest {
	var d Digest
	h.Sum(d[:0])
	return d
}

// String returns the 64-character lowercase hex form.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Short returns the first n hex characters (MAAS's filename_on_disk uses 7).
func (d Digest) Short(n int) string {
	s := d.String()
	if n > len(s) {
		n = len(s)
	}
	return s[:n]
}

// IsZero reports whether d is the zero value (no digest).
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalText implements encoding.TextMarshaler.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
