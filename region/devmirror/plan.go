package devmirror

import (
	"fmt"
	"strings"

	"github.com/bootfs/bootfs/internal/digest"
)

// Content ids of the two products files, as on images.maas.io.
const (
	ImagesContentID      = "com.ubuntu.maas:stable:v3:download"
	BootloadersContentID = "com.ubuntu.maas:stable:1:bootloader-download"
)

// release describes an Ubuntu release the mirror can hold, with realistic
// file sizes.
type release struct {
	version, title, codename, eol string
	kernel, initrd, squashfs      int64
}

var releases = map[string]release{
	"bionic": {"18.04", "18.04 LTS", "Bionic Beaver", "2023-05-31", 8_347_040, 58_921_344, 574_939_136},
	"focal":  {"20.04", "20.04 LTS", "Focal Fossa", "2025-05-29", 11_708_744, 68_115_410, 781_471_744},
	"jammy":  {"22.04", "22.04 LTS", "Jammy Jellyfish", "2027-06-01", 14_157_184, 74_815_430, 899_321_856},
	"noble":  {"24.04", "24.04 LTS", "Noble Numbat", "2029-05-31", 14_913_416, 76_604_112, 951_627_776},
}

// product is one product to write.
type product struct {
	id        string
	contentID string
	fields    map[string]string // product fields (os, arch, release...)
	items     []*item
}

// item is one item file to write; sha256 and size are set once written.
type item struct {
	name, ftype, path string // path is relative to the mirror root
	src               source
	extra             map[string]string // more item fields, e.g. kpackage
	sha256            digest.Digest
	size              int64
}

// plan lists the products and items o asks for.
func plan(o Options) []*product {
	var out []*product
	for _, name := range o.Releases {
		out = append(out, imageProduct(o, name))
	}
	return append(out, bootloaderProducts(o)...)
}

func imageProduct(o Options, name string) *product {
	r := releases[name]
	subarch := "ga-" + r.version
	dir := name + "/amd64/" + o.Version
	kernel := source(synth{seed: seed(name, "boot-kernel", o.Version), size: o.scaled(r.kernel)})
	if o.Kernel != "" {
		kernel = file{path: o.Kernel}
	}
	initrd := source(synth{seed: seed(name, "boot-initrd", o.Version), size: o.scaled(r.initrd)})
	if o.Initrd != "" {
		initrd = file{path: o.Initrd}
	}
	return &product{
		id:        fmt.Sprintf("com.ubuntu.maas.stable:v3:boot:%s:amd64:%s", r.version, subarch),
		contentID: ImagesContentID,
		fields: map[string]string{
			"arch": "amd64", "os": "ubuntu", "release": name, "version": r.version,
			"release_title": r.title, "release_codename": r.codename, "support_eol": r.eol,
			"subarch": subarch, "subarches": "generic," + subarch, "kflavor": "generic",
			"krel": name, "label": "stable",
		},
		items: []*item{
			{name: "boot-kernel", ftype: "boot-kernel", path: dir + "/" + subarch + "/generic/boot-kernel",
				src: kernel, extra: map[string]string{"kpackage": "linux-generic"}},
			{name: "boot-initrd", ftype: "boot-initrd", path: dir + "/" + subarch + "/generic/boot-initrd",
				src: initrd, extra: map[string]string{"kpackage": "linux-generic"}},
			{name: "squashfs", ftype: "squashfs", path: dir + "/squashfs",
				src: synth{seed: seed(name, "squashfs", o.Version), size: o.scaled(r.squashfs)}},
			// Not an image file: importers must skip it.
			{name: "manifest", ftype: "manifest", path: dir + "/squashfs.manifest",
				src: text(manifest(name, r, o.Version))},
		},
	}
}

// manifest is the package list of a synthetic squashfs.
func manifest(name string, r release, version string) string {
	var b strings.Builder
	for i, pkg := range []string{"adduser", "apt", "base-files", "bash", "cloud-init", "coreutils",
		"grub-common", "linux-generic", "openssh-server", "systemd", "ubuntu-minimal"} {
		fmt.Fprintf(&b, "%s\t%s.%d+bootfs.%s.%s\n", pkg, r.version, i, name, version)
	}
	return b.String()
}
