package importer

import (
	"errors"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pathrule"
	"github.com/bootfs/bootfs/region/db"
	"github.com/bootfs/bootfs/region/simplestreams"
)

// TestSetRecordChecksNames: setRecord holds every part of a set that
// becomes a tree path component to the path rule, whatever the parser let
// through, and names the field.
func TestSetRecordChecksNames(t *testing.T) {
	good := simplestreams.Latest{
		Product: simplestreams.Product{ID: "p", OS: "ubuntu", Arch: "amd64", Release: "noble", Subarch: "ga-24.04", Label: "stable"},
		Version: "20250101",
		Items:   []simplestreams.Item{{Name: "boot-kernel", Ftype: "boot-kernel", Path: "noble/boot-kernel", SHA256: digest.Of([]byte("k")), Size: 1}},
	}
	if _, err := setRecord("http://mirror/", good); err != nil {
		t.Fatalf("good product: %v", err)
	}
	cases := map[string]func(l *simplestreams.Latest){
		"release":         func(l *simplestreams.Latest) { l.Product.Release = "../../../x" },
		"label":           func(l *simplestreams.Latest) { l.Product.Label = ".." },
		"os":              func(l *simplestreams.Latest) { l.Product.OS = "a/b" },
		"subarch":         func(l *simplestreams.Latest) { l.Product.Subarch = "x\x00" },
		"version":         func(l *simplestreams.Latest) { l.Version = "." },
		"item name":       func(l *simplestreams.Latest) { l.Items = []simplestreams.Item{{Name: "../../x", Path: "x", Size: 1}} },
		"bootloader-type": func(l *simplestreams.Latest) { l.Product.BootloaderType = "uefi/.." },
	}
	for field, edit := range cases {
		l := good
		l.Items = append([]simplestreams.Item(nil), good.Items...)
		edit(&l)
		_, err := setRecord("http://mirror/", l)
		var pe *pathError
		if !errors.Is(err, pathrule.ErrInvalid) || !errors.As(err, &pe) || pe.field != field {
			t.Errorf("%s: %v, want a path rule error naming the field", field, err)
		}
	}
	l := good
	l.Items = []simplestreams.Item{{Name: "squashfs", Path: "x", Size: 1<<63 - 1}}
	if _, err := setRecord("http://mirror/", l); err == nil {
		t.Error("size 2^63-1 accepted")
	}
}

// TestSelectedRefusal: a refused product is reported when the selections
// ask for it, the offending field aside.
func TestSelectedRefusal(t *testing.T) {
	sels := []db.Selection{{OS: "ubuntu", Release: "noble", Arches: []string{"amd64"}, Labels: []string{"stable"}}}
	p := simplestreams.Product{ID: "p", OS: "ubuntu", Arch: "amd64", Release: "noble", Subarch: "ga-24.04", Label: "stable"}
	bad := func(field, value string) simplestreams.Refusal {
		q := p
		switch field {
		case "label":
			q.Label = value
		case "release":
			q.Release = value
		case "arch":
			q.Arch = value
		}
		return simplestreams.Refusal{Product: q, Field: field, Value: value}
	}
	for _, r := range []simplestreams.Refusal{bad("label", ".."), bad("release", "../x"), bad("arch", "a/b"), bad("item name", "../../x")} {
		if !selectedRefusal(sels, r) {
			t.Errorf("refusal of %s %q not reported under a selection asking for the product", r.Field, r.Value)
		}
	}
	other := bad("label", "..")
	other.Product.Release = "jammy"
	if selectedRefusal(sels, other) {
		t.Error("a product the selections do not ask for is reported")
	}
}
