package importer

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
)

func TestFlatMembers(t *testing.T) {
	a, b := digest.Of([]byte("a")), digest.Of([]byte("b"))
	got, err := flatMembers([]member{
		{name: "grubx64.efi", sha: a, size: 1},
		{name: "efi/boot/grubx64.efi", sha: a, size: 1}, // same bytes: skipped
		{name: "efi/boot/bootx64.efi", sha: b, size: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, []string{"efi/boot/bootx64.efi", "grubx64.efi"}) {
		t.Fatalf("kept %v", names)
	}

	_, err = flatMembers([]member{
		{name: "a/grubx64.efi", sha: a, size: 1},
		{name: "b/grubx64.efi", sha: b, size: 1},
	})
	if !errors.Is(err, ErrDuplicateMember) {
		t.Fatalf("different bytes under one base name: %v, want ErrDuplicateMember", err)
	}
	for _, want := range []string{"a/grubx64.efi", "b/grubx64.efi"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
