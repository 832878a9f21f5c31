package mount

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"
)

// lazyUnmount detaches the mount at dir now; the kernel releases it once
// nothing uses it any more. Root unmounts directly, others go through
// fusermount3 (which allows it for the user's own FUSE mounts).
func lazyUnmount(dir string) error {
	if os.Geteuid() == 0 {
		return unix.Unmount(dir, unix.MNT_DETACH)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("fusermount3", "-u", "-z", dir)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("fusermount3 -u -z: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// isNotConnected reports whether err is ENOTCONN, what a FUSE mount whose
// server died answers.
func isNotConnected(err error) bool { return errors.Is(err, unix.ENOTCONN) }
