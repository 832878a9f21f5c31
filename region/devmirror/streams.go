package devmirror

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// signingKey is the throwaway key of one run.
type signingKey struct{ entity *openpgp.Entity }

func newSigningKey(version string) (*signingKey, error) {
	e, err := openpgp.NewEntity("bootfs dev mirror", "throwaway key, version "+version,
		"dev-mirror@bootfs.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return &signingKey{entity: e}, nil
}

// writeKeyrings writes the public key as a binary and an armored keyring.
func (k *signingKey) writeKeyrings(binPath, armoredPath string) error {
	var bin, arm bytes.Buffer
	if err := k.entity.Serialize(&bin); err != nil {
		return fmt.Errorf("serialize public key: %w", err)
	}
	aw, err := armor.Encode(&arm, openpgp.PublicKeyType, nil)
	if err != nil {
		return err
	}
	if _, err := aw.Write(bin.Bytes()); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return err
	}
	arm.WriteByte('\n')
	if err := writeBytes(binPath, bin.Bytes()); err != nil {
		return err
	}
	return writeBytes(armoredPath, arm.Bytes())
}

// clearsign returns payload clearsigned.
func (k *signingKey) clearsign(payload []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, k.entity.PrivateKey, nil)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(payload); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// updated is the "updated" stamp of every document: the version's date if
// it starts with one, else a fixed date, so that output is reproducible.
func updated(version string) string {
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if len(version) >= 8 {
		if d, err := time.Parse("20060102", version[:8]); err == nil {
			t = d
		}
	}
	return t.Format(time.RFC1123Z)
}

// writeStreams writes the products files and the index, each as .json and
// clearsigned .sjson with the same text.
func writeStreams(root, version string, products []*product, key *signingKey) error {
	stamp := updated(version)
	byContent := make(map[string][]*product)
	for _, p := range products {
		byContent[p.contentID] = append(byContent[p.contentID], p)
	}
	index := map[string]any{}
	for contentID, ps := range byContent {
		docs := map[string]any{}
		var ids []string
		for _, p := range ps {
			ids = append(ids, p.id)
			docs[p.id] = productDoc(p, version)
		}
		sort.Strings(ids)
		rel := "streams/v1/" + contentID
		doc := map[string]any{
			"content_id": contentID,
			"datatype":   "image-ids",
			"format":     "products:1.0",
			"updated":    stamp,
			"products":   docs,
		}
		if err := writeDoc(root, rel, doc, key); err != nil {
			return err
		}
		index[contentID] = map[string]any{
			"datatype": "image-ids",
			"format":   "products:1.0",
			"path":     rel + ".sjson",
			"products": ids,
			"updated":  stamp,
		}
	}
	return writeDoc(root, "streams/v1/index", map[string]any{
		"format":  "index:1.0",
		"updated": stamp,
		"index":   index,
	}, key)
}

// productDoc is p as a products file holds it, with one version.
func productDoc(p *product, version string) map[string]any {
	doc := map[string]any{}
	for k, v := range p.fields {
		doc[k] = v
	}
	items := map[string]any{}
	for _, it := range p.items {
		m := map[string]any{
			"ftype":  it.ftype,
			"path":   it.path,
			"sha256": it.sha256.String(),
			"size":   it.size,
		}
		for k, v := range it.extra {
			m[k] = v
		}
		items[it.name] = m
	}
	doc["versions"] = map[string]any{version: map[string]any{"items": items}}
	return doc
}

// writeDoc writes doc as rel+".json" and clearsigned as rel+".sjson".
func writeDoc(root, rel string, doc any, key *signingKey) error {
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	b = append(b, '\n')
	signed, err := key.clearsign(b)
	if err != nil {
		return fmt.Errorf("sign %s: %w", rel, err)
	}
	base := filepath.Join(root, filepath.FromSlash(rel))
	if err := writeBytes(base+".json", b); err != nil {
		return err
	}
	return writeBytes(base+".sjson", signed)
}
