// Package devmirror writes a local simplestreams mirror shaped like
// images.maas.io's ephemeral-v3 stream, for demos and tests: Ubuntu image
// products (boot-kernel, boot-initrd, squashfs and a manifest) for a few
// releases on amd64, and the grub-efi-signed (uefi/amd64), pxelinux
// (pxe/i386), grub-efi (uefi/arm64) and grub-ieee1275 (open-firmware/
// ppc64el) bootloader products as archive.tar.xz items.
//
// Layout under Options.Out:
//
//	streams/v1/index.sjson, index.json
//	streams/v1/com.ubuntu.maas:stable:v3:download.sjson, .json
//	streams/v1/com.ubuntu.maas:stable:1:bootloader-download.sjson, .json
//	jammy/amd64/<version>/ga-22.04/generic/boot-kernel, boot-initrd
//	jammy/amd64/<version>/squashfs, squashfs.manifest
//	bootloaders/uefi/amd64/<version>/shim-signed.tar.xz, grub2-signed.tar.xz
//	bootloaders/pxe/i386/<version>/pxelinux.tar.xz, syslinux-common.tar.xz
//	bootloaders/uefi/arm64/<version>/shim-signed.tar.xz, grub2-signed.tar.xz
//	bootloaders/open-firmware/ppc64el/<version>/grub2.tar.xz
//	keyring.gpg (binary public keyring), keyring.asc (armored)
//
// The .sjson documents are clearsigned with a throwaway key generated at
// each run; the .json documents hold the same text unsigned. Import with
// the keyring written next to them.
//
// Image files are synthetic: a pseudo-random stream determined by
// (release, ftype, version), so the same options always give the same
// sha256s and a new version gives new files. Options.Kernel and
// Options.Initrd put real files in their place (a PXE boot test needs a
// kernel that boots). Bootloader archives hold the real files of the
// installed Debian packages (shim-signed, grub-efi-amd64-signed, pxelinux,
// syslinux-common) when present, synthetic bytes otherwise (with a
// warning; the arm64 and ppc64el bootloaders are synthetic on an amd64
// machine, logged at info level). Apart from the signatures and keyrings, the output depends only
// on the options and on those installed files.
//
// Files are streamed to disk with their sha256 computed on the way; nothing
// is held in memory whole. They are written to a temporary name and renamed,
// but not fsynced: this is a development tool.
package devmirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/bootfs/bootfs/region/simplestreams"
)

// Options configures Generate. Zero values have the documented defaults.
type Options struct {
	// Out is the directory to write; it is created if missing. Files of an
	// earlier run with another version stay; the metadata names only this
	// run's files.
	Out string
	// Scale multiplies the realistic file sizes (kernel about 14 MiB,
	// initrd about 75 MiB, squashfs about 900 MiB; noble a bit larger than
	// jammy). 0 means 1.0. Every file is at least 1 KiB.
	Scale float64
	// Version is the version name of every product written; "" means
	// "20250101".
	Version string
	// Releases are the Ubuntu releases to write (amd64 only, subarch
	// ga-<version>, kflavor generic, label stable); nil means jammy and
	// noble. Known: bionic, focal, jammy, noble.
	Releases []string
	// Kernel and Initrd, when set, are paths of real files used as every
	// release's boot-kernel and boot-initrd instead of synthetic bytes.
	Kernel, Initrd string
	// SystemRoot is where the bootloader package files are looked up
	// (SystemRoot + "/usr/lib/shim/..."); "" means "/". Tests point it at
	// an empty directory to get synthetic bootloaders.
	SystemRoot string
	// Log receives warnings and a summary; nil discards them.
	Log *slog.Logger
}

// Result describes a written mirror.
type Result struct {
	// Root is the absolute path of the mirror root (Options.Out).
	Root string
	// KeyringPath is the binary public keyring checking the signatures,
	// ArmoredKeyringPath the same keyring ASCII-armored.
	KeyringPath        string
	ArmoredKeyringPath string
	// Files is the number of item files written (images, manifests and
	// bootloader archives; not the metadata or keyrings), Bytes their
	// total size.
	Files int
	Bytes int64
}

// DefaultVersion is the version name used when Options.Version is empty.
const DefaultVersion = "20250101"

// minFileSize is the smallest synthetic file.
const minFileSize = 1024

// withDefaults checks o and fills in its zero values.
func (o Options) withDefaults() (Options, error) {
	if o.Out == "" {
		return o, errors.New("no output directory given")
	}
	if o.Scale < 0 || math.IsNaN(o.Scale) || math.IsInf(o.Scale, 0) || o.Scale > 1000 {
		return o, fmt.Errorf("scale %v: must be between 0 and 1000", o.Scale)
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if err := simplestreams.CheckPath(o.Version); err != nil || strings.Contains(o.Version, "/") {
		return o, fmt.Errorf("version %q: not usable as a path segment", o.Version)
	}
	if o.Releases == nil {
		o.Releases = []string{"jammy", "noble"}
	}
	seen := make(map[string]bool)
	for _, r := range o.Releases {
		if _, ok := releases[r]; !ok {
			return o, fmt.Errorf("release %q: unknown (known: bionic, focal, jammy, noble)", r)
		}
		if seen[r] {
			return o, fmt.Errorf("release %q given twice", r)
		}
		seen[r] = true
	}
	if o.SystemRoot == "" {
		o.SystemRoot = "/"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// scaled returns a realistic size times the scale, at least minFileSize.
func (o Options) scaled(n int64) int64 {
	return max(int64(float64(n)*o.Scale), minFileSize)
}

// Generate writes the mirror described by o and returns where it is.
func Generate(ctx context.Context, o Options) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("dev mirror: %w", err)
	}
	root, err := filepath.Abs(o.Out)
	if err != nil {
		return nil, fmt.Errorf("dev mirror: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("dev mirror: %w", err)
	}
	products := plan(o)
	if err := writeItems(ctx, root, products); err != nil {
		return nil, fmt.Errorf("dev mirror %s: %w", root, err)
	}
	key, err := newSigningKey(o.Version)
	if err != nil {
		return nil, fmt.Errorf("dev mirror: %w", err)
	}
	res := &Result{
		Root:               root,
		KeyringPath:        filepath.Join(root, "keyring.gpg"),
		ArmoredKeyringPath: filepath.Join(root, "keyring.asc"),
	}
	if err := key.writeKeyrings(res.KeyringPath, res.ArmoredKeyringPath); err != nil {
		return nil, fmt.Errorf("dev mirror %s: %w", root, err)
	}
	if err := writeStreams(root, o.Version, products, key); err != nil {
		return nil, fmt.Errorf("dev mirror %s: %w", root, err)
	}
	for _, p := range products {
		for _, it := range p.items {
			res.Files++
			res.Bytes += it.size
		}
	}
	o.Log.Info("dev mirror written", "path", root, "version", o.Version,
		"releases", strings.Join(o.Releases, ","), "files", res.Files, "bytes", res.Bytes)
	return res, nil
}
