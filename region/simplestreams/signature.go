package simplestreams

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

const (
	armoredKeyHeader  = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	clearsignedHeader = "-----BEGIN PGP SIGNED MESSAGE-----"
)

// ReadKeyring parses an OpenPGP public keyring, binary or ASCII-armored.
// A keyring without any key is an error.
func ReadKeyring(b []byte) (openpgp.EntityList, error) {
	var (
		el  openpgp.EntityList
		err error
	)
	if bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte(armoredKeyHeader)) {
		el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(b))
	}
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	if len(el) == 0 {
		return nil, errors.New("read keyring: no key in keyring")
	}
	return el, nil
}

// VerifyClearsigned checks that data is one PGP clearsigned message signed
// by a key of keyring and returns the signed text (dash-escaping undone,
// LF line endings). Anything else in data but surrounding white space is
// refused, so no unsigned text can ride along. Every failure wraps
// ErrBadSignature.
func VerifyClearsigned(data []byte, keyring openpgp.EntityList) ([]byte, error) {
	if len(keyring) == 0 {
		return nil, fmt.Errorf("%w: no key to check the signature with", ErrBadSignature)
	}
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(clearsignedHeader)) {
		return nil, fmt.Errorf("%w: not a clearsigned message", ErrBadSignature)
	}
	block, rest := clearsign.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: malformed clearsigned message", ErrBadSignature)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the signature", ErrBadSignature, len(rest))
	}
	if _, err := block.VerifySignature(keyring, nil); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return block.Plaintext, nil
}
