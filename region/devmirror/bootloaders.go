package devmirror

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ulikunitz/xz"
)

// pkgFile is one bootloader file, taken from an installed Debian package.
type pkgFile struct {
	member string   // name in the archive
	paths  []string // candidates (globs) under SystemRoot; the first match wins
	size   int64    // realistic size, for the synthetic stand-in
}

// archiveSpec is one archive.tar.xz item: the files of one package.
type archiveSpec struct {
	item  string // item name and file name without .tar.xz
	pkg   string // Debian package providing the files
	files []pkgFile
}

// bootloaderSpec is one bootloader product.
type bootloaderSpec struct {
	os, btype, arch string
	archives        []archiveSpec
	// foreign marks another architecture's bootloaders: their Debian
	// packages are not installable next to amd64 ones, so synthetic
	// bytes are expected and logged at info level, not as a warning.
	foreign bool
}

var bootloaderSpecs = []bootloaderSpec{
	{"grub-efi-signed", "uefi", "amd64", []archiveSpec{
		{"shim-signed", "shim-signed", []pkgFile{
			{"bootx64.efi", []string{"/usr/lib/shim/shimx64.efi.signed", "/usr/lib/shim/shimx64.efi.signed.*"}, 1_048_504},
		}},
		{"grub2-signed", "grub-efi-amd64-signed", []pkgFile{
			{"grubx64.efi", []string{"/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed"}, 3_843_520},
		}},
	}, false},
	{"pxelinux", "pxe", "i386", []archiveSpec{
		{"pxelinux", "pxelinux", []pkgFile{
			{"lpxelinux.0", []string{"/usr/lib/PXELINUX/lpxelinux.0"}, 75_072},
			{"pxelinux.0", []string{"/usr/lib/PXELINUX/pxelinux.0"}, 42_430},
		}},
		{"syslinux-common", "syslinux-common", []pkgFile{
			{"ldlinux.c32", []string{"/usr/lib/syslinux/modules/bios/ldlinux.c32"}, 119_524},
			{"chain.c32", []string{"/usr/lib/syslinux/modules/bios/chain.c32"}, 25_128},
			{"ifcpu.c32", []string{"/usr/lib/syslinux/modules/bios/ifcpu.c32"}, 1_784},
			{"ifcpu64.c32", []string{"/usr/lib/syslinux/modules/bios/ifcpu64.c32"}, 1_808},
			{"libcom32.c32", []string{"/usr/lib/syslinux/modules/bios/libcom32.c32"}, 169_552},
			{"libutil.c32", []string{"/usr/lib/syslinux/modules/bios/libutil.c32"}, 23_524},
			{"menu.c32", []string{"/usr/lib/syslinux/modules/bios/menu.c32"}, 26_228},
		}},
	}, false},
	// The other architectures MAAS boots: bootloader names a rack must
	// serve (bootaa64.efi, grubaa64.efi, bootppc64.bin), with synthetic
	// bytes unless the files happen to be installed.
	{"grub-efi", "uefi", "arm64", []archiveSpec{
		{"shim-signed", "shim-signed", []pkgFile{
			{"bootaa64.efi", []string{"/usr/lib/shim/shimaa64.efi.signed"}, 958_912},
		}},
		{"grub2-signed", "grub-efi-arm64-signed", []pkgFile{
			{"grubaa64.efi", []string{"/usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed"}, 2_013_184},
		}},
	}, true},
	{"grub-ieee1275", "open-firmware", "ppc64el", []archiveSpec{
		{"grub2", "grub-ieee1275-bin", []pkgFile{
			{"bootppc64.bin", []string{"/usr/lib/grub/powerpc-ieee1275/core.elf"}, 493_056},
		}},
	}, true},
}

// bootloaderMembers lists, per bootloader item path suffix
// ("<type>/<arch>/<item>.tar.xz"), the member names its archive holds.
func bootloaderMembers() map[string][]string {
	out := make(map[string][]string)
	for _, b := range bootloaderSpecs {
		for _, a := range b.archives {
			key := b.btype + "/" + b.arch + "/" + a.item + ".tar.xz"
			for _, f := range a.files {
				out[key] = append(out[key], f.member)
			}
		}
	}
	return out
}

// bootloaderProducts plans the bootloader products, finding each file in
// the installed packages or falling back to synthetic bytes.
func bootloaderProducts(o Options) []*product {
	var out []*product
	for _, b := range bootloaderSpecs {
		p := &product{
			id:        fmt.Sprintf("com.ubuntu.maas.stable:1:%s:%s:%s", b.os, b.btype, b.arch),
			contentID: BootloadersContentID,
			fields: map[string]string{
				"os": b.os, "arch": b.arch, "arches": b.arch, "bootloader-type": b.btype, "label": "stable",
			},
		}
		for _, a := range b.archives {
			var ar archive
			for _, f := range a.files {
				ar.members = append(ar.members, findMember(o, a, f, b.foreign))
			}
			p.items = append(p.items, &item{
				name:  a.item,
				ftype: "archive.tar.xz",
				path:  fmt.Sprintf("bootloaders/%s/%s/%s/%s.tar.xz", b.btype, b.arch, o.Version, a.item),
				src:   ar,
				extra: map[string]string{"src_package": a.pkg},
			})
		}
		out = append(out, p)
	}
	return out
}

// findMember returns the archive member for f: the installed file if there
// is one, synthetic bytes (with a warning, unless foreign) otherwise.
func findMember(o Options, a archiveSpec, f pkgFile, foreign bool) archiveMember {
	for _, pattern := range f.paths {
		matches, _ := filepath.Glob(filepath.Join(o.SystemRoot, pattern)) // only ErrBadPattern, not with these
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
				return archiveMember{name: f.member, size: fi.Size(), src: file{path: m}}
			}
		}
	}
	if foreign {
		o.Log.Info("bootloader file of another architecture, using synthetic bytes",
			"package", a.pkg, "member", f.member)
	} else {
		o.Log.Warn("bootloader file not installed, using synthetic bytes",
			"package", a.pkg, "member", f.member, "path", f.paths[0])
	}
	size := o.scaled(f.size)
	return archiveMember{name: f.member, size: size, src: synth{seed: seed("bootloader", a.item, f.member), size: size}}
}

// archiveTime is the modification time of every archive member, fixed so
// that archives are reproducible.
var archiveTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// archiveMember is one file of an archive.
type archiveMember struct {
	name string
	size int64
	src  source
}

// archive is an archive.tar.xz of regular files.
type archive struct{ members []archiveMember }

func (a archive) writeTo(ctx context.Context, w io.Writer) error {
	xw, err := xz.NewWriter(w)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(xw)
	for _, m := range a.members {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg, Name: m.name, Size: m.size, Mode: 0o644,
			ModTime: archiveTime, Uname: "root", Gname: "root", Format: tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive member %s: %w", m.name, err)
		}
		// tar refuses more bytes than the header says, and fewer at the
		// next header or Close: a file changing under us is an error.
		if err := m.src.writeTo(ctx, tw); err != nil {
			return fmt.Errorf("archive member %s: %w", m.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return xw.Close()
}
