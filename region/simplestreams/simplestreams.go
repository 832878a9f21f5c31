// Package simplestreams reads an upstream boot image mirror in the
// simplestreams format that images.maas.io publishes, and verifies it.
//
// # The mirror
//
// A mirror is a directory tree served over HTTP. Its entry point is
// streams/v1/index.sjson, a PGP clearsigned JSON document (index.json is the
// same document unsigned). The index names one products file per content id;
// the ones bootfs reads have datatype "image-ids" (older streams:
// "image-downloads") and format "products:1.0". A products file maps product
// ids to products; a product has descriptive fields (os, release, arch,
// subarch, kflavor, label, or for bootloaders os, arch and bootloader-type)
// and versions; a version has items, each a file of the mirror named by a
// path relative to the mirror root, with its ftype, sha256 and size.
//
// # What Load returns
//
// Load fetches and verifies the index and every products file, then keeps,
// for each product, only its newest version (see CompareVersions) and of that
// version only the items whose ftype bootfs knows (KnownFtype); a manifest, for
// example, is dropped. A product whose newest version has no known item is
// left out. Older versions are not looked at, so a broken old version does
// not block an import. Every item kept has a valid sha256, a size of at
// most MaxItemSize and a safe path, and every field that becomes a path
// component of the boot tree (os, arch, subarch, release, label, version,
// bootloader-type, item name) passes internal/pathrule; otherwise Load
// fails naming the products file, product, version and item. LoadAll
// instead refuses such a product on its own (a Refusal naming the field and
// value) and returns the others.
//
// # Trust
//
// Unless Source.Unsigned is set, every metadata document is read in its
// clearsigned .sjson form and its signature is checked against
// Source.Keyring; only the signed payload is parsed. The item files are not
// signed themselves: they are trusted through the sha256 and size the signed
// metadata gives, which whoever downloads them must check. Item paths are
// checked so that no item can name a URL outside the mirror root (ItemURL).
//
// Bootloader products carry their files as archive.tar.xz items;
// ExtractArchive reads such an archive member by member.
package simplestreams

import (
	"errors"

	"github.com/bootfs/bootfs/internal/digest"
)

// Errors callers may test with errors.Is.
var (
	// ErrBadSignature: a signed document is missing its signature, is not
	// signed by a key of the keyring, or its signed text was changed.
	ErrBadSignature = errors.New("bad or missing signature")
	// ErrUnsafePath: a path (item path, archive member) would escape the
	// directory or URL it must stay under.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrUnknownFormat: an archive is not an xz-compressed tar.
	ErrUnknownFormat = errors.New("unknown archive format")
	// ErrFormat: a document or archive has the right format but malformed
	// content (bad JSON, missing sha256, invalid size, unsupported member...).
	ErrFormat = errors.New("malformed content")
)

// Source is one upstream mirror.
type Source struct {
	// URL is the mirror root, e.g. "http://images.maas.io/ephemeral-v3/stable/"
	// (the trailing slash is optional). http and https URLs are fetched with
	// the client given to Load; any other scheme needs a client whose
	// transport serves it (e.g. http.NewFileTransport for file://).
	URL string
	// Keyring is an OpenPGP public keyring, binary (like
	// /usr/share/keyrings/ubuntu-cloudimage-keyring.gpg) or ASCII-armored.
	Keyring []byte
	// Unsigned makes Load read streams/v1/index.json and the products' .json
	// files without any signature check. It is never assumed: a signed source
	// without a keyring is an error.
	Unsigned bool
}

// Product is one product of the mirror, described by its fields.
type Product struct {
	// ID is the product id, e.g. "com.ubuntu.maas.stable:v3:boot:22.04:amd64:ga-22.04".
	ID string
	// ContentID is the content id of the products file holding the product,
	// e.g. "com.ubuntu.maas:stable:v3:download".
	ContentID string
	OS        string // "ubuntu"; for bootloaders e.g. "grub-efi-signed", "pxelinux"
	Arch      string // "amd64"; for bootloaders the firmware arch, e.g. "i386" for pxe
	Release   string // "jammy"; empty for bootloaders
	// OSVersion is the product's "version" field, e.g. "22.04".
	OSVersion    string
	ReleaseTitle string // "release_title", e.g. "22.04 LTS"
	Subarch      string // "ga-22.04"; empty for bootloaders
	Kflavor      string // "generic"
	Label        string // "stable", "candidate"
	// BootloaderType is the "bootloader-type" field ("uefi", "pxe",
	// "open-firmware"); it is set only on bootloader products.
	BootloaderType string
	// Subarches is the comma-separated list of subarches the product's
	// kernel supports, as upstream gives it.
	Subarches string
}

// IsBootloader reports whether p is a bootloader product.
func (p Product) IsBootloader() bool { return p.BootloaderType != "" }

// ResourceName is the MAAS boot resource name of p: "<os>/<release>", or for
// a bootloader "<os>/<bootloader-type>" (e.g. "ubuntu/jammy",
// "grub-efi-signed/uefi").
func (p Product) ResourceName() string {
	if p.IsBootloader() {
		return p.OS + "/" + p.BootloaderType
	}
	return p.OS + "/" + p.Release
}

// ResourceArch is the MAAS boot resource architecture of p:
// "<arch>/<subarch>", or for a bootloader "<arch>/generic".
func (p Product) ResourceArch() string {
	if p.IsBootloader() || p.Subarch == "" {
		return p.Arch + "/generic"
	}
	return p.Arch + "/" + p.Subarch
}

// Item is one file of a product version.
type Item struct {
	Name   string // the item's key in its version, e.g. "boot-kernel", "shim-signed"
	Ftype  string // one of the known ftypes, see KnownFtype
	Path   string // relative to the mirror root; safe (see ItemURL)
	SHA256 digest.Digest
	Size   int64
}

// Latest is the newest version of one product, with only the items of known
// ftypes, sorted by name.
type Latest struct {
	Product Product
	Version string
	Items   []Item
}

// knownFtypes are the item ftypes bootfs imports.
var knownFtypes = map[string]bool{
	"boot-kernel":    true,
	"boot-initrd":    true,
	"boot-dtb":       true,
	"squashfs":       true,
	"root-tgz":       true,
	"root-tbz":       true,
	"root-txz":       true,
	"root-image.gz":  true,
	"archive.tar.xz": true,
}

// KnownFtype reports whether bootfs imports items of this ftype:
// boot-kernel, boot-initrd, boot-dtb, squashfs, root-tgz, root-tbz, root-txz,
// root-image.gz and archive.tar.xz (bootloaders).
func KnownFtype(ftype string) bool { return knownFtypes[ftype] }
