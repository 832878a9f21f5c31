package simplestreams

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/pathrule"
)

// MaxItemSize is the largest item size a products file may declare (1 TiB).
// Boot images are a few GiB; a larger size is bad metadata, and refusing it
// here keeps absurd sizes (up to 2^63-1) out of every sum made from them.
const MaxItemSize int64 = 1 << 40

// Refusal is a product Load left out because its metadata is bad: a field
// that would become a path component of the boot tree breaks the path rule
// (internal/pathrule), an item has an unsafe path, a bad sha256 or an
// impossible size, or a required field is missing. The other products are
// not affected.
type Refusal struct {
	// Product is what was read of the product before it was refused (at
	// least its ID and ContentID), so a caller can match it against its
	// selections.
	Product Product
	// URL is the products file naming the product.
	URL string
	// Version and Item name the version and item concerned, if any.
	Version, Item string
	// Field and Value name the offending field and its value, if one field
	// is to blame (e.g. "release", "../../../x").
	Field, Value string
	// Err says what is wrong; it wraps ErrFormat, ErrUnsafePath or
	// pathrule.ErrInvalid, and names the products file, product, version
	// and item.
	Err error
}

func (r Refusal) Error() string { return r.Err.Error() }
func (r Refusal) Unwrap() error { return r.Err }

// refusal is the error parseProduct returns for a bad product.
type refusal struct {
	version, item, field, value string
	err                         error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

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
// newest version of each of its products, sorted by product id, and the
// products refused for bad metadata. An error means the whole document is
// unusable.
func parseProducts(url, contentID string, body []byte) ([]Latest, []Refusal, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, nil, fmt.Errorf("products file %s: %w: %w", url, ErrFormat, err)
	}
	var format string
	if err := json.Unmarshal(top["format"], &format); err != nil || format != "products:1.0" {
		return nil, nil, fmt.Errorf("products file %s: %w: format %s, want \"products:1.0\"", url, ErrFormat, top["format"])
	}
	var products map[string]map[string]json.RawMessage
	if err := json.Unmarshal(top["products"], &products); err != nil {
		return nil, nil, fmt.Errorf("products file %s: %w: products: %w", url, ErrFormat, err)
	}
	var out []Latest
	var refused []Refusal
	for id, fields := range products {
		lt, ok, err := parseProduct(id, contentID, fields, top)
		if err != nil {
			r := Refusal{Product: lt.Product, URL: url, Err: fmt.Errorf("products file %s: %w", url, err)}
			var why *refusal
			if errors.As(err, &why) {
				r.Version, r.Item, r.Field, r.Value = why.version, why.item, why.field, why.value
			}
			refused = append(refused, r)
			continue
		}
		if ok {
			out = append(out, lt)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Product.ID < out[j].Product.ID })
	sortRefusals(refused)
	return out, refused, nil
}

func sortRefusals(rs []Refusal) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Product.ID < rs[j].Product.ID })
}

// parseProduct returns the newest version of one product; ok is false when
// the product has no version or its newest version no known item. Fields
// missing on the product are inherited from the top of the products file,
// as simplestreams does. An error (a *refusal) refuses the product; lt.Product
// then holds what was read of it.
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
			return "", &refusal{field: name, value: string(raw), err: fmt.Errorf("product %s: %w: field %q: %w", id, ErrFormat, name, err)}
		}
		return s, nil
	}
	p := Product{ID: id, ContentID: contentID}
	lt.Product = p
	defer func() { lt.Product = p }()
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
	if err := checkNames(p); err != nil {
		return lt, false, err
	}

	var versions map[string]rawVersion
	if raw, found := fields["versions"]; found {
		if err := json.Unmarshal(raw, &versions); err != nil {
			return lt, false, &refusal{field: "versions", err: fmt.Errorf("product %s: %w: versions: %w", id, ErrFormat, err)}
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
	if err := pathrule.Component("version", newest); err != nil {
		return lt, false, &refusal{version: newest, field: "version", value: newest, err: fmt.Errorf("product %s: %w", id, err)}
	}
	items, err := parseItems(versions[newest].Items)
	if err != nil {
		var why *refusal
		if errors.As(err, &why) {
			why.version = newest
			why.err = fmt.Errorf("product %s version %s: %w", id, newest, why.err)
			return lt, false, why
		}
		return lt, false, &refusal{version: newest, err: fmt.Errorf("product %s version %s: %w", id, newest, err)}
	}
	if len(items) == 0 {
		return lt, false, nil
	}
	if p.OS == "" || p.Arch == "" || (!p.IsBootloader() && (p.Release == "" || p.Subarch == "")) {
		return lt, false, &refusal{version: newest, err: fmt.Errorf("product %s: %w: needs os, arch, release and subarch (or os, arch and bootloader-type)", id, ErrFormat)}
	}
	return Latest{Product: p, Version: newest, Items: items}, true, nil
}

// checkNames refuses a product whose fields that become path components of
// the boot tree (os, arch, subarch, release, label, bootloader-type) break
// the path rule. Empty fields are left to the required-field check; the
// label defaults to "stable" downstream.
func checkNames(p Product) error {
	for _, f := range []struct{ name, value string }{
		{"os", p.OS}, {"arch", p.Arch}, {"subarch", p.Subarch}, {"release", p.Release},
		{"label", p.Label}, {"bootloader-type", p.BootloaderType},
	} {
		if f.value == "" {
			continue
		}
		if err := pathrule.Component(f.name, f.value); err != nil {
			return &refusal{field: f.name, value: f.value, err: fmt.Errorf("product %s: %w", p.ID, err)}
		}
	}
	return nil
}

// parseItems checks and returns the items of known ftypes, sorted by name.
// An error is a *refusal naming the item.
func parseItems(raw map[string]rawItem) ([]Item, error) {
	var out []Item
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names) // the first bad item (by name) is the one reported
	for _, name := range names {
		ri := raw[name]
		if !KnownFtype(ri.Ftype) {
			continue
		}
		bad := func(field, value string, err error) error {
			return &refusal{item: name, field: field, value: value, err: fmt.Errorf("item %s: %w", name, err)}
		}
		if err := pathrule.Component("item name", name); err != nil {
			return nil, bad("item name", name, err)
		}
		if err := CheckPath(ri.Path); err != nil {
			return nil, bad("path", ri.Path, err)
		}
		sum, err := digest.Parse(ri.SHA256)
		if err != nil {
			return nil, bad("sha256", ri.SHA256, fmt.Errorf("%w: sha256: %w", ErrFormat, err))
		}
		size, err := parseSize(ri.Size)
		if err != nil {
			return nil, bad("size", string(ri.Size), fmt.Errorf("%w: size: %w", ErrFormat, err))
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
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("size %s is out of range (at most %d bytes, 1 TiB, for one file)", s, MaxItemSize)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative size %d", n)
	}
	if n > MaxItemSize {
		return 0, fmt.Errorf("size %d is over the %d-byte (1 TiB) limit for one file", n, MaxItemSize)
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
