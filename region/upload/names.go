package upload

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bootfs/bootfs/internal/pathrule"
)

// ErrInvalid is wrapped by errors about what an upload declares (name,
// architecture, filetype, base image, sha256, size).
var ErrInvalid = errors.New("invalid upload")

// DefaultFiletype is the filetype when none is given, as in MAAS.
const DefaultFiletype = "tgz"

// filenames maps the filetypes an upload may declare (MAAS's
// `boot-resources create filetype=` choices) to the file name (and
// filetype) MAAS gives the file: BOOT_RESOURCE_FILE_TYPE. A ddtgz file is
// named root-dd, for compatibility with old MAAS releases.
var filenames = map[string]string{
	"tgz":   "root-tgz",
	"tbz":   "root-tbz",
	"txz":   "root-txz",
	"ddtgz": "root-dd",
	"ddtbz": "root-dd.tar.bz2",
	"ddtxz": "root-dd.tar.xz",
	"ddtar": "root-dd.tar",
	"ddbz2": "root-dd.bz2",
	"ddgz":  "root-dd.gz",
	"ddxz":  "root-dd.xz",
	"ddraw": "root-dd.raw",
}

// Filetypes lists the filetypes an upload may declare, in MAAS's order.
var Filetypes = []string{"tgz", "tbz", "txz", "ddtgz", "ddtbz", "ddtxz", "ddtar", "ddbz2", "ddgz", "ddxz", "ddraw"}

// Filename returns the file name MAAS gives a file of filetype ft ("" means
// DefaultFiletype), e.g. root-tgz for tgz and root-dd.raw for ddraw.
func Filename(ft string) (string, error) {
	if ft == "" {
		ft = DefaultFiletype
	}
	if f, ok := filenames[ft]; ok {
		return f, nil
	}
	return "", fmt.Errorf("%w: unknown filetype %q: use one of %s", ErrInvalid, ft, strings.Join(Filetypes, ", "))
}

// Name turns a name as given to `images upload` into the resource name
// os/release, MAAS's way: "NAME" and "custom/NAME" are os custom, release
// NAME; "rhel/9", "windows/win2016" and the like keep their os. Both parts
// must pass the tree's path rule.
func Name(name string) (string, error) {
	osName, release, found := strings.Cut(name, "/")
	if !found {
		osName, release = "custom", name
	}
	if strings.Contains(release, "/") {
		return "", fmt.Errorf("%w: name %q has more than one '/': give NAME, custom/NAME or OS/RELEASE", ErrInvalid, name)
	}
	if err := pathrule.Component("os of the name", osName); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := pathrule.Component("name", release); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return osName + "/" + release, nil
}

// Architecture checks an ARCH/SUBARCH architecture, e.g. amd64/generic.
func Architecture(arch string) (string, error) {
	a, sub, found := strings.Cut(arch, "/")
	if !found || strings.Contains(sub, "/") {
		return "", fmt.Errorf("%w: architecture %q: give ARCH/SUBARCH, e.g. amd64/generic", ErrInvalid, arch)
	}
	if err := pathrule.Component("architecture", a); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := pathrule.Component("subarchitecture", sub); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return arch, nil
}

// BaseImage checks an OS/RELEASE base image ("" is fine: none).
func BaseImage(b string) error {
	if b == "" {
		return nil
	}
	osName, release, found := strings.Cut(b, "/")
	if !found || osName == "" || release == "" || strings.Contains(release, "/") {
		return fmt.Errorf("%w: base image %q: give OS/RELEASE, e.g. ubuntu/noble", ErrInvalid, b)
	}
	return nil
}
