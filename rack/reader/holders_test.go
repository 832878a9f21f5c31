package reader

import (
	"reflect"
	"testing"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

func TestHolders(t *testing.T) {
	k, i := digest.Of([]byte("kernel")), digest.Of([]byte("initrd"))
	tree := &wire.Tree{
		Regions: []wire.Region{{Name: "r1", URL: "http://10.0.0.1:5240"}, {Name: "r2", URL: "http://10.0.0.2:5240"}},
		Files: []wire.Entry{
			{Path: "a/boot-kernel", SHA256: k, Regions: []string{"r2", "r1"}},
			{Path: "b/boot-kernel", SHA256: k, Regions: []string{"r1"}}, // same bytes, second path
			{Path: "a/boot-initrd", SHA256: i, Regions: []string{"gone", "r2"}},
		},
	}
	want := map[digest.Digest][]string{
		k: {"http://10.0.0.2:5240", "http://10.0.0.1:5240"},
		i: {"http://10.0.0.2:5240"},
	}
	if got := Holders(tree); !reflect.DeepEqual(got, want) {
		t.Fatalf("Holders = %v, want %v", got, want)
	}
}
