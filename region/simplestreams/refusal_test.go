package simplestreams

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/bootfs/bootfs/internal/pathrule"
)

// TestLoadAllRefusesBadProducts: every field that becomes a tree path
// component is held to the path rule, sizes to MaxItemSize; a bad product
// is refused by name with the field and value, and the others load.
func TestLoadAllRefusesBadProducts(t *testing.T) {
	key := newTestKey(t, "mirror")
	product := func(d obj) obj { return d["products"].(obj)[jammyID].(obj) }
	newest := func(d obj) obj { return product(d)["versions"].(obj)["20250718.10"].(obj)["items"].(obj) }
	cases := []struct {
		name, field, value string
		edit               func(obj)
		want               error
	}{
		{"release", "release", "../../../x", func(d obj) { product(d)["release"] = "../../../x" }, pathrule.ErrInvalid},
		{"label", "label", "..", func(d obj) { product(d)["label"] = ".." }, pathrule.ErrInvalid},
		{"os", "os", "a/b", func(d obj) { product(d)["os"] = "a/b" }, pathrule.ErrInvalid},
		{"arch", "arch", "amd64\n", func(d obj) { product(d)["arch"] = "amd64\n" }, pathrule.ErrInvalid},
		{"subarch", "subarch", ".", func(d obj) { product(d)["subarch"] = "." }, pathrule.ErrInvalid},
		{"item name", "item name", "../../x", func(d obj) {
			it := newest(d)
			it["../../x"] = it["boot-kernel"]
			delete(it, "boot-kernel")
		}, pathrule.ErrInvalid},
		{"version", "version", "20990101/..", func(d obj) {
			v := product(d)["versions"].(obj)
			v["20990101/.."] = v["20250718.10"]
		}, pathrule.ErrInvalid},
		{"size 2^63-1", "size", "9223372036854775807", func(d obj) {
			newest(d)["squashfs"].(obj)["size"] = json.Number("9223372036854775807")
		}, ErrFormat},
		{"size just over 1 TiB", "size", "1099511627777", func(d obj) {
			newest(d)["squashfs"].(obj)["size"] = MaxItemSize + 1
		}, ErrFormat},
		{"size over 2^64", "size", "36893488147419103232", func(d obj) {
			newest(d)["squashfs"].(obj)["size"] = json.Number("36893488147419103232")
		}, ErrFormat},
		{"missing subarch", "", "", func(d obj) { delete(product(d), "subarch") }, ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := editedMirror(t, key, c.edit)
			latest, refused, err := LoadAll(context.Background(), nil, Source{URL: m.root(), Keyring: key.public})
			if err != nil {
				t.Fatalf("LoadAll: %v", err)
			}
			if len(refused) != 1 {
				t.Fatalf("refused %v, want only %s", refused, jammyID)
			}
			r := refused[0]
			if r.Product.ID != jammyID || r.Field != c.field || r.Value != c.value || !errors.Is(r.Err, c.want) {
				t.Fatalf("refusal %+v (%v), want %s field %q value %q wrapping %v", r, r.Err, jammyID, c.field, c.value, c.want)
			}
			mustContain(t, r.Err, jammyID, imagesID)
			for _, l := range latest {
				if l.Product.ID == jammyID {
					t.Fatal("refused product returned")
				}
				for _, it := range l.Items {
					if _, err := pathrule.Path(l.Product.ResourceName() + "/" + it.Name); err != nil {
						t.Errorf("product %s: %v", l.Product.ID, err)
					}
				}
			}
			if !strings.Contains(r.Error(), c.value) && !strings.Contains(r.Error(), strconv.Quote(c.value)) {
				t.Errorf("error %q does not name the value %q", r.Err, c.value)
			}
			if len(latest) == 0 {
				t.Fatal("the good products were not returned")
			}
			// Load stays all or nothing.
			if _, err := Load(context.Background(), nil, Source{URL: m.root(), Keyring: key.public}); !errors.Is(err, c.want) {
				t.Fatalf("Load: %v, want %v", err, c.want)
			}
		})
	}
}
