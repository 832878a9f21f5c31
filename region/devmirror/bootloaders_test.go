package devmirror

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateSyntheticBootloaders(t *testing.T) {
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	res := generate(t, Options{SystemRoot: t.TempDir(), Log: log, Scale: 1e-9})
	warnings := strings.Count(logBuf.String(), "level=WARN")
	if warnings != 11 {
		t.Errorf("%d warnings, want one per missing amd64/i386 file (11):\n%s", warnings, logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "package=shim-signed") || !strings.Contains(logBuf.String(), "member=bootx64.efi") {
		t.Errorf("warning does not name package and member:\n%s", logBuf.String())
	}
	members := bootloaderMembers()
	for _, l := range load(t, res, false, res.KeyringPath) {
		for _, it := range l.Items {
			if it.Ftype != "archive.tar.xz" {
				// Scale 1e-9: every synthetic file is the minimum size.
				if it.Size != minFileSize {
					t.Errorf("%s %s: %d bytes, want %d", l.Product.ID, it.Name, it.Size, minFileSize)
				}
				continue
			}
			key := l.Product.BootloaderType + "/" + l.Product.Arch + "/" + it.Name + ".tar.xz"
			got := extract(t, filepath.Join(res.Root, filepath.FromSlash(it.Path)))
			if len(got) != len(members[key]) {
				t.Errorf("%s: %d members, want %d", key, len(got), len(members[key]))
			}
			for _, m := range members[key] {
				if len(got[m]) != minFileSize {
					t.Errorf("%s %s: %d bytes, want %d", key, m, len(got[m]), minFileSize)
				}
			}
		}
	}
}

func TestGenerateInstalledFiles(t *testing.T) {
	var logBuf bytes.Buffer
	res := generate(t, Options{Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	// syslinux-common's seven files are missing from fakeSystem (the other
	// architectures' are too: not a warning).
	if n := strings.Count(logBuf.String(), "level=WARN"); n != 7 || strings.Count(logBuf.String(), "level=WARN msg=\"bootloader file not installed, using synthetic bytes\" package=syslinux-common") != 7 {
		t.Errorf("%d warnings, want 7 for syslinux-common:\n%s", n, logBuf.String())
	}
	want := map[string]map[string]string{
		"shim-signed":  {"bootx64.efi": "fake shim"},
		"grub2-signed": {"grubx64.efi": "fake grub"},
		"pxelinux":     {"lpxelinux.0": "fake lpxelinux", "pxelinux.0": "fake pxelinux"},
	}
	n := 0
	for _, l := range load(t, res, false, res.KeyringPath) {
		if l.Product.Arch != "amd64" && l.Product.Arch != "i386" {
			continue // the other architectures' files are synthetic
		}
		for _, it := range l.Items {
			if it.Ftype != "archive.tar.xz" {
				continue
			}
			n++
			got := extract(t, filepath.Join(res.Root, filepath.FromSlash(it.Path)))
			if it.Name == "syslinux-common" {
				if len(got) != 7 || len(got["ldlinux.c32"]) != minFileSize { // 119524 * testScale < 1 KiB
					t.Errorf("synthetic syslinux-common: %d members, ldlinux.c32 %d bytes", len(got), len(got["ldlinux.c32"]))
				}
				continue
			}
			if len(got) != len(want[it.Name]) {
				t.Errorf("%s: %d members, want %d", it.Name, len(got), len(want[it.Name]))
			}
			for m, content := range want[it.Name] {
				if string(got[m]) != content {
					t.Errorf("%s %s = %q, want %q", it.Name, m, got[m], content)
				}
			}
		}
	}
	if n != 4 {
		t.Errorf("%d bootloader archives, want 4", n)
	}
}

// TestFindInstalledMembers checks that the bootloader files of the Debian
// packages installed on this machine are the ones put in the archives.
func TestFindInstalledMembers(t *testing.T) {
	var logBuf bytes.Buffer
	o, err := Options{Out: t.TempDir(), Log: slog.New(slog.NewTextHandler(&logBuf, nil))}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, b := range bootloaderSpecs {
		for _, a := range b.archives {
			for _, f := range a.files {
				m := findMember(o, a, f, b.foreign)
				if m.name != f.member {
					t.Errorf("member %q, want %q", m.name, f.member)
				}
				var installed string
				for _, pattern := range f.paths {
					if found, _ := filepath.Glob(pattern); len(found) > 0 {
						installed = found[0]
						break
					}
				}
				if installed == "" {
					if !b.foreign {
						missing++
					}
					if _, ok := m.src.(synth); !ok || m.size < minFileSize {
						t.Errorf("%s: not installed, got %+v, want synthetic bytes", f.member, m)
					}
					continue
				}
				fi, err := os.Stat(installed)
				if err != nil {
					t.Fatal(err)
				}
				if m.src != (file{path: installed}) || m.size != fi.Size() {
					t.Errorf("%s: got %+v, want %s (%d bytes)", f.member, m, installed, fi.Size())
				}
			}
		}
	}
	if n := strings.Count(logBuf.String(), "level=WARN"); n != missing {
		t.Errorf("%d warnings for %d missing files", n, missing)
	}
	t.Logf("%d bootloader files not installed on this machine", missing)
}
