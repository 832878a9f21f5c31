package rack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
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

// setKernelReadahead sets the readahead of the mount at dir (the
// read_ahead_kb of its backing device; FUSE can only lower it at INIT).
func setKernelReadahead(dir string, bytes int) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	path := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	return os.WriteFile(path, []byte(strconv.Itoa(max(bytes>>10, 4))), 0)
}

// isNotConnected reports whether err is ENOTCONN, what a FUSE mount whose
// server died answers.
func isNotConnected(err error) bool { return errors.Is(err, unix.ENOTCONN) }
