package simplestreams

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestLoadBadItems(t *testing.T) {
	key := newTestKey(t, "mirror")
	set := func(doc obj, version, itemName, field string, value any) {
		doc["products"].(obj)[jammyID].(obj)["versions"].(obj)[version].(obj)["items"].(obj)[itemName].(obj)[field] = value
	}
	cases := []struct {
		name    string
		edit    func(obj)
		want    error
		mention []string
	}{
		{"escaping path", func(d obj) { set(d, "20250718.10", "squashfs", "path", "../../etc/passwd") }, ErrUnsafePath, nil},
		{"absolute path", func(d obj) { set(d, "20250718.10", "squashfs", "path", "/etc/passwd") }, ErrUnsafePath, nil},
		{"url path", func(d obj) { set(d, "20250718.10", "squashfs", "path", "http://evil/x") }, ErrUnsafePath, nil},
		{"missing sha256", func(d obj) {
			delete(d["products"].(obj)[jammyID].(obj)["versions"].(obj)["20250718.10"].(obj)["items"].(obj)["squashfs"].(obj), "sha256")
		}, ErrFormat, nil},
		{"bad sha256", func(d obj) { set(d, "20250718.10", "squashfs", "sha256", "abc") }, ErrFormat, nil},
		{"missing size", func(d obj) { set(d, "20250718.10", "squashfs", "size", nil) }, ErrFormat, nil},
		{"negative size", func(d obj) { set(d, "20250718.10", "squashfs", "size", -1) }, ErrFormat, nil},
		{"fractional size", func(d obj) { set(d, "20250718.10", "squashfs", "size", 1.5) }, ErrFormat, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := editedMirror(t, key, c.edit)
			_, err := Load(context.Background(), nil, Source{URL: m.root(), Keyring: key.public})
			if !errors.Is(err, c.want) {
				t.Fatalf("%v, want %v", err, c.want)
			}
			mustContain(t, err, m.root()+"streams/v1/"+imagesID+".sjson", jammyID, "20250718.10", "squashfs")
		})
	}
}

func TestLoadBadDocuments(t *testing.T) {
	key := newTestKey(t, "mirror")
	load := func(m *testMirror) error {
		_, err := Load(context.Background(), nil, Source{URL: m.root(), Keyring: key.public})
		return err
	}
	t.Run("index path escapes", func(t *testing.T) {
		m := goodMirror(t, key)
		idx := indexDoc()
		idx["index"].(obj)[imagesID].(obj)["path"] = "../secret.sjson"
		m.putDoc(t, key, "streams/v1/index", idx)
		err := load(m)
		if !errors.Is(err, ErrUnsafePath) {
			t.Fatalf("%v, want ErrUnsafePath", err)
		}
		mustContain(t, err, imagesID, "index.sjson")
	})
	t.Run("index format", func(t *testing.T) {
		m := goodMirror(t, key)
		idx := indexDoc()
		idx["format"] = "index:2.0"
		m.putDoc(t, key, "streams/v1/index", idx)
		if err := load(m); !errors.Is(err, ErrFormat) {
			t.Fatalf("%v, want ErrFormat", err)
		}
	})
	t.Run("products not json", func(t *testing.T) {
		m := goodMirror(t, key)
		m.put("streams/v1/"+blID+".sjson", key.sign(t, []byte("{not json")))
		err := load(m)
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("%v, want ErrFormat", err)
		}
		mustContain(t, err, blID+".sjson")
	})
	t.Run("products file missing", func(t *testing.T) {
		m := goodMirror(t, key)
		m.del("streams/v1/" + blID + ".sjson")
		err := load(m)
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 404 {
			t.Fatalf("%v, want a 404 HTTPError", err)
		}
		mustContain(t, err, "404", m.root()+"streams/v1/"+blID+".sjson")
	})
	t.Run("duplicate product", func(t *testing.T) {
		m := goodMirror(t, key)
		bl := bootloadersDoc()
		bl["products"].(obj)[jammyID] = imagesDoc()["products"].(obj)[jammyID]
		m.putDoc(t, key, "streams/v1/"+blID, bl)
		err := load(m)
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("%v, want ErrFormat", err)
		}
		mustContain(t, err, jammyID)
	})
	t.Run("product without os", func(t *testing.T) {
		m := goodMirror(t, key)
		doc := imagesDoc()
		delete(doc["products"].(obj)[nobleID].(obj), "os")
		m.putDoc(t, key, "streams/v1/"+imagesID, doc)
		err := load(m)
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("%v, want ErrFormat", err)
		}
		mustContain(t, err, nobleID)
	})
	t.Run("server error", func(t *testing.T) {
		srv := newTestMirror(t)
		srv.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		})
		err := load(srv)
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 500 {
			t.Fatalf("%v, want a 500 HTTPError", err)
		}
		mustContain(t, err, "500", srv.root()+"streams/v1/index.sjson")
	})
	t.Run("too big", func(t *testing.T) {
		m := goodMirror(t, key)
		old := maxMetadataSize
		maxMetadataSize = int64(len(m.get("streams/v1/index.sjson")) - 1)
		t.Cleanup(func() { maxMetadataSize = old })
		err := load(m)
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("%v, want ErrFormat", err)
		}
		mustContain(t, err, "index.sjson")
	})
	t.Run("bad root", func(t *testing.T) {
		for _, root := range []string{"", "images.maas.io/x", "http://h/x?q=1"} {
			if _, err := Load(context.Background(), nil, Source{URL: root, Unsigned: true}); err == nil {
				t.Errorf("root %q accepted", root)
			}
		}
	})
	t.Run("canceled", func(t *testing.T) {
		m := goodMirror(t, key)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Load(ctx, nil, Source{URL: m.root(), Keyring: key.public}); !errors.Is(err, context.Canceled) {
			t.Fatalf("%v, want context.Canceled", err)
		}
	})
}
