package fs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
)

// MountOptions configures Mount.
type MountOptions struct {
	// AllowOther lets users other than the mounter (tftpd's and nginx's)
	// read the mount. A non-root mounter also needs user_allow_other in
	// /etc/fuse.conf.
	AllowOther bool
	// FsName is the source shown in /proc/mounts and df, e.g. the region
	// URLs. Default "bootfs".
	FsName string
	// Debug logs every FUSE request and reply at debug level to the Root's
	// logger.
	Debug bool
	// MaxReadAhead caps the kernel's readahead in bytes; 0 keeps the
	// kernel's default (the bdi's read_ahead_kb, 128 KiB unless changed
	// in /sys/class/bdi).
	MaxReadAhead int
}

// maxRequest is the largest READ the kernel may send (max_read, max_pages):
// one verified block.
const maxRequest = digest.BlockSize

// Mount mounts root read-only at dir (MS_RDONLY|MS_NOSUID|MS_NODEV, type
// fuse.bootfs) and serves it until the returned server is unmounted
// (server.Unmount, then server.Wait). As root it calls mount(2) itself,
// otherwise through fusermount3. A stale FUSE mount left at dir by a crashed
// server ("transport endpoint is not connected") is detached first. A Root
// can be mounted once.
func Mount(dir string, root *Root, o MountOptions) (*fuse.Server, error) {
	if err := detachStale(dir, root.log); err != nil {
		return nil, err
	}
	opts := root.nodeFSOptions()
	fsName := o.FsName
	if fsName == "" {
		fsName = "bootfs"
	}
	opts.MountOptions = fuse.MountOptions{
		AllowOther:       o.AllowOther,
		FsName:           fsName,
		Name:             "bootfs",
		Options:          []string{"ro", "default_permissions"},
		DirectMount:      os.Geteuid() == 0,
		DirectMountFlags: syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV,
		MaxWrite:         maxRequest,
		MaxReadAhead:     o.MaxReadAhead,
		Debug:            o.Debug,
		Logger:           slog.NewLogLogger(root.log.Handler(), slog.LevelDebug),
	}
	server, err := gofs.Mount(dir, root, opts)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	return server, nil
}

// nodeFSOptions are the go-fuse options for root, mounted or not (unit tests
// use them with gofs.NewNodeFS). Entry and attribute timeouts are left nil:
// every node sets its own, and go-fuse would replace a deliberate 0 with a
// global value.
func (r *Root) nodeFSOptions() *gofs.Options {
	o := &gofs.Options{
		RootStableAttr: &gofs.StableAttr{Ino: 1},
		Logger:         slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
	if r.opts.NegativeTimeout > 0 {
		// Without this go-fuse replies ENOENT, which the kernel does
		// not cache, instead of a negative entry.
		t := r.opts.NegativeTimeout
		o.NegativeTimeout = &t
	}
	return o
}

// detachStale lazily unmounts a dead FUSE mount at dir, which otherwise
// makes every access to dir (and mounting over it) fail with ENOTCONN. It
// asks with statfs(2): FUSE always forwards it, where stat(2) may be
// answered from cached attributes.
func detachStale(dir string, log *slog.Logger) error {
	var st unix.Statfs_t
	err := unix.Statfs(dir, &st)
	if !errors.Is(err, unix.ENOTCONN) {
		return nil // a live directory, or an error mount(2) will report
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach stale mount at %s: %w", dir, err)
	}
	log.Warn("detached stale FUSE mount", "dir", dir)
	return nil
}
