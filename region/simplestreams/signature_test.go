package simplestreams

import (
	"bytes"
	"errors"
	"testing"
)

func TestVerifyClearsigned(t *testing.T) {
	key := newTestKey(t, "signer")
	ring, err := ReadKeyring(key.public)
	if err != nil {
		t.Fatal(err)
	}
	// Lines starting with "-" are dash-escaped by the signer; the payload
	// comes back as it was.
	payload := []byte("{\n \"a\": 1,\n-----BEGIN PGP SIGNATURE-----\n - b\n}")
	signed := key.sign(t, payload)
	got, err := VerifyClearsigned(signed, ring)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("payload = %q, want %q", got, payload)
	}
	// Surrounding white space is fine.
	if _, err := VerifyClearsigned(append(append([]byte("\n\n"), signed...), "\n \n"...), ring); err != nil {
		t.Fatalf("white space around: %v", err)
	}

	other := newTestKey(t, "other")
	otherRing, err := ReadKeyring(other.armored)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]struct {
		data []byte
		ring []byte
	}{
		"wrong key":       {signed, other.public},
		"payload changed": {bytes.Replace(signed, []byte(`"a": 1`), []byte(`"a": 2`), 1), key.public},
		"text before":     {append([]byte("{\"evil\":1}\n"), signed...), key.public},
		"text after":      {append(bytes.Clone(signed), "{\"evil\":1}\n"...), key.public},
		"not signed":      {payload, key.public},
		"signature cut":   {signed[:bytes.Index(signed, []byte("-----BEGIN PGP SIGNATURE"))], key.public},
		"second message":  {append(bytes.Clone(signed), signed...), key.public},
		"empty":           {nil, key.public},
	}
	for name, c := range bad {
		r := ring
		if bytes.Equal(c.ring, other.public) {
			r = otherRing
		}
		if _, err := VerifyClearsigned(c.data, r); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
	if _, err := VerifyClearsigned(signed, nil); !errors.Is(err, ErrBadSignature) {
		t.Errorf("nil keyring: %v", err)
	}
}

func TestReadKeyring(t *testing.T) {
	a, b := newTestKey(t, "a"), newTestKey(t, "b")
	for name, data := range map[string][]byte{
		"binary":                     a.public,
		"armored":                    a.armored,
		"armored with leading space": append([]byte("\n  "), a.armored...),
	} {
		el, err := ReadKeyring(data)
		if err != nil || len(el) != 1 || el[0].PrimaryKey.KeyId != a.entity.PrimaryKey.KeyId {
			t.Errorf("%s: %d keys, %v", name, len(el), err)
		}
	}
	el, err := ReadKeyring(append(bytes.Clone(a.public), b.public...))
	if err != nil || len(el) != 2 {
		t.Errorf("two keys: %d, %v", len(el), err)
	}
	for name, data := range map[string][]byte{
		"empty":           nil,
		"garbage":         []byte("not a keyring"),
		"armored garbage": []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n"),
	} {
		if _, err := ReadKeyring(data); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
