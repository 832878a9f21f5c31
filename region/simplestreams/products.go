package simplestreams

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/bootfs/bootfs/internal/digest"
)

// rawItem is an item as a products file gives it.
type rawItem struct {
	Ftype  string          `json:"ftype"`
	Path   string          `json:"path"`
	SHA256 string          `json:"sha256"`
	Size   json.RawMessage `json:"size"`
}

// rawVersion is a version as a products file gives it.
type rawVersion struct {
	Items map[string]rawItem `json:"items"`
}

// parseProducts reads a products file fetched from url and returns the
// newest version of each of its products, sorted by product id.
func parseProducts(url, contentID string, body []byte) ([]Latest, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("products file %s: %w: %w", url, ErrFormat, err)
	}
	var format string
	if err := json.Unmarshal(top["format"], &format); err != nil || format != "products:1.0" {
		return nil, fmt.Errorf("products file %s: %w: format %s, want \"products:1.0\"", url, ErrFormat, top["format"])
	}
	var products map[string]map[string]json.RawMessage
	if err := json.Unmarshal(top["products"], &products); err != nil {
		return nil, fmt.Errorf("products file %s: %w: products: %w", url, ErrFormat, err)
	}
	var out []Latest
	for id, fields := range products {
		lt, ok, err := parseProduct(id, contentID, fields, top)
		if err != nil {
			return nil, fmt.Errorf("products file %s: %w", url, err)
		}
		if ok {
			out = append(out, lt)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Product.ID < out[j].Product.ID })
	return out, nil
}

// parseProduct returns the newest version of one product; ok is false when
// the product has no version or its newest version no known item. Fields
// missing on the product are inherited from the top of the products file,
// as simplestreams does.
func parseProduct(id, contentID string, fields, top map[string]json.RawMessage) (lt Latest, ok bool, err error) {
	field := func(name string) (string, error) {
		raw, found := fields[name]
		if !found {
			raw, found = top[name]
		}
		if !found {
			return "", nil
		}
		s, err := scalarString(raw)
		if err != nil {
			return "", fmt.Errorf("product %s: %w: field %q: %w", id, ErrFormat, name, err)
		}
		return s, nil
	}
	p := Product{ID: id, ContentID: contentID}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"os", &p.OS}, {"arch", &p.Arch}, {"release", &p.Release},
		{"version", &p.OSVersion}, {"release_title", &p.ReleaseTitle},
		{"subarch", &p.Subarch}, {"kflavor", &p.Kflavor}, {"label", &p.Label},
		{"bootloader-type", &p.BootloaderType}, {"subarches", &p.Subarches},
	} {
		if *f.dst, err = field(f.name); err != nil {
			return lt, false, err
		}
	}

	var versions map[string]rawVersion
	if raw, found := fields["versions"]; found {
		if err := json.Unmarshal(raw, &versions); err != nil {
			return lt, false, fmt.Errorf("product %s: %w: versions: %w", id, ErrFormat, err)
		}
	}
	if len(versions) == 0 {
		return lt, false, nil
	}
	newest := ""
	for v := range versions {
		if newest == "" || CompareVersions(v, newest) > 0 {
			newest = v
		}
	}
	items, err := parseItems(versions[newest].Items)
	if err != nil {
		return lt, false, fmt.Errorf("product %s version %s: %w", id, newest, err)
	}
	if len(items) == 0 {
		return lt, false, nil
	}
	if p.OS == "" || p.Arch == "" || (!p.IsBootloader() && p.Release == "") {
		return lt, false, fmt.Errorf("product %s: %w: needs os, arch and release (or bootloader-type)", id, ErrFormat)
	}
	return Latest{Product: p, Version: newest, Items: items}, true, nil
}

// parseItems checks and returns the items of known ftypes, sorted by name.
func parseItems(raw map[string]rawItem) ([]Item, error) {
	var out []Item
	for name, ri := range raw {
		if !KnownFtype(ri.Ftype) {
			continue
		}
		if err := CheckPath(ri.Path); err != nil {
			return nil, fmt.Errorf("item %s: %w", name, err)
		}
		sum, err := digest.Parse(ri.SHA256)
		if err != nil {
			return nil, fmt.Errorf("item %s: %w: sha256: %w", name, ErrFormat, err)
		}
		size, err := parseSize(ri.Size)
		if err != nil {
			return nil, fmt.Errorf("item %s: %w: size: %w", name, ErrFormat, err)
		}
		out = append(out, Item{Name: name, Ftype: ri.Ftype, Path: ri.Path, SHA256: sum, Size: size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// parseSize reads a size given as a JSON integer (or a string holding one).
func parseSize(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, errors.New("missing")
	}
	s, err := scalarString(raw)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative size %d", n)
	}
	return n, nil
}

// scalarString returns a JSON string's value, or a JSON number's text.
func scalarString(raw json.RawMessage) (string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("%s is not a string", raw)
}
