package simplestreams

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// Index paths, relative to the mirror root.
const (
	SignedIndexPath   = "streams/v1/index.sjson"
	UnsignedIndexPath = "streams/v1/index.json"
)

// Load reads the mirror src with hc (nil means http.DefaultClient), checks
// signatures unless src.Unsigned, and returns the newest version of every
// product of every image products file the index names, sorted by product
// id. See the package documentation for what is kept. Load does not filter
// by selection: apply Selection.Matches to the result.
//
// Errors name the URL, product, version and item concerned; a signature
// problem wraps ErrBadSignature, an unsafe item path ErrUnsafePath, a
// malformed document ErrFormat, and a non-2xx answer is an *HTTPError.
//
// Load is all or nothing: one refused product fails it (with that
// product's error). LoadAll instead leaves bad products out and lists them.
func Load(ctx context.Context, hc *http.Client, src Source) ([]Latest, error) {
	latest, refused, err := LoadAll(ctx, hc, src)
	if err != nil {
		return nil, err
	}
	if len(refused) > 0 {
		return nil, refused[0].Err
	}
	return latest, nil
}

// LoadAll is Load that refuses bad products one by one instead of failing:
// a product with bad metadata (see Refusal) is left out of latest and
// listed in refused, sorted by product id, and the others are returned.
// A product id given by two products files is refused in the second.
// The error is for what spoils the whole source: the index, a products
// document that cannot be fetched, verified or parsed at all.
func LoadAll(ctx context.Context, hc *http.Client, src Source) ([]Latest, []Refusal, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	root, err := normalizeRoot(src.URL)
	if err != nil {
		return nil, nil, err
	}
	l := &loader{hc: hc, root: root, unsigned: src.Unsigned}
	if !src.Unsigned {
		if len(src.Keyring) == 0 {
			return nil, nil, fmt.Errorf("source %s: %w: no keyring given for a signed source", root, ErrBadSignature)
		}
		if l.keyring, err = ReadKeyring(src.Keyring); err != nil {
			return nil, nil, fmt.Errorf("source %s: %w", root, err)
		}
	}

	indexPath := SignedIndexPath
	if src.Unsigned {
		indexPath = UnsignedIndexPath
	}
	indexURL, body, err := l.document(ctx, indexPath)
	if err != nil {
		return nil, nil, err
	}
	entries, err := parseIndex(indexURL, body)
	if err != nil {
		return nil, nil, err
	}

	var out []Latest
	var refused []Refusal
	from := make(map[string]string) // product id -> URL of the products file naming it
	for _, e := range entries {
		docPath, err := l.productsPath(e.path)
		if err != nil {
			return nil, nil, fmt.Errorf("index %s: content %s: %w", indexURL, e.contentID, err)
		}
		url, body, err := l.document(ctx, docPath)
		if err != nil {
			return nil, nil, fmt.Errorf("content %s: %w", e.contentID, err)
		}
		latest, bad, err := parseProducts(url, e.contentID, body)
		if err != nil {
			return nil, nil, err
		}
		refused = append(refused, bad...)
		for _, lt := range latest {
			if prev, dup := from[lt.Product.ID]; dup {
				refused = append(refused, Refusal{Product: lt.Product, URL: url, Field: "product id", Value: lt.Product.ID,
					Err: fmt.Errorf("products file %s: %w: product %s is also in %s", url, ErrFormat, lt.Product.ID, prev)})
				continue
			}
			from[lt.Product.ID] = url
			out = append(out, lt)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Product.ID < out[j].Product.ID })
	sortRefusals(refused)
	return out, refused, nil
}

// loader fetches the documents of one mirror.
type loader struct {
	hc       *http.Client
	root     string // with a trailing slash
	keyring  openpgp.EntityList
	unsigned bool
}

// document fetches the document at rel (relative to the root), verifies its
// signature unless the source is unsigned, and returns its URL and payload.
func (l *loader) document(ctx context.Context, rel string) (string, []byte, error) {
	url, err := ItemURL(l.root, rel)
	if err != nil {
		return "", nil, err
	}
	body, err := fetchMetadata(ctx, l.hc, url)
	if err != nil {
		return url, nil, err
	}
	if l.unsigned {
		return url, body, nil
	}
	payload, err := VerifyClearsigned(body, l.keyring)
	if err != nil {
		return url, nil, fmt.Errorf("%s: %w", url, err)
	}
	return url, payload, nil
}

// productsPath maps the path an index gives for a products file to the one
// to fetch: its .sjson form for a signed source, its .json form otherwise.
func (l *loader) productsPath(p string) (string, error) {
	var base string
	switch {
	case strings.HasSuffix(p, ".sjson"):
		base = strings.TrimSuffix(p, ".sjson")
	case strings.HasSuffix(p, ".json"):
		base = strings.TrimSuffix(p, ".json")
	default:
		return "", fmt.Errorf("%w: products path %q ends neither in .json nor .sjson", ErrFormat, p)
	}
	if l.unsigned {
		return base + ".json", nil
	}
	return base + ".sjson", nil
}

// indexEntry is one products file an index names.
type indexEntry struct {
	contentID string
	path      string
}

// parseIndex returns the image products files of an index, sorted by
// content id.
func parseIndex(url string, body []byte) ([]indexEntry, error) {
	var doc struct {
		Format string `json:"format"`
		Index  map[string]struct {
			Datatype string `json:"datatype"`
			Format   string `json:"format"`
			Path     string `json:"path"`
		} `json:"index"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("index %s: %w: %w", url, ErrFormat, err)
	}
	if doc.Format != "index:1.0" {
		return nil, fmt.Errorf("index %s: %w: format %q, want \"index:1.0\"", url, ErrFormat, doc.Format)
	}
	var out []indexEntry
	for id, e := range doc.Index {
		if e.Format != "products:1.0" || (e.Datatype != "image-ids" && e.Datatype != "image-downloads") {
			continue
		}
		if err := CheckPath(e.Path); err != nil {
			return nil, fmt.Errorf("index %s: content %s: %w", url, id, err)
		}
		out = append(out, indexEntry{contentID: id, path: e.Path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].contentID < out[j].contentID })
	return out, nil
}
