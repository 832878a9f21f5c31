package fs

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
)

func TestMountServesFiles(t *testing.T) {
	kernel, initrd, efi := randBytes(10, 5<<20+123), randBytes(11, 3<<20), randBytes(12, 1000)
	tree := files{
		"bootx64.efi":                        efi,
		"bootloaders/uefi/amd64/bootx64.efi": efi,
		kernelPath:                           kernel,
		"ubuntu/amd64/ga-22.04/jammy/stable/boot-initrd": initrd,
		"images/1a2b3c4": kernel,
		"empty":          {},
	}
	m := mountRig(t, Options{}, MountOptions{}, tree)

	for p, want := range tree {
		got, err := os.ReadFile(m.path(p))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, err %v; want %d bytes", p, len(got), err, len(want))
		}
	}

	f, err := os.Open(m.path(kernelPath))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for off := 0; off < len(kernel); off += len(chunk) {
		n, err := io.ReadFull(f, chunk)
		if want := kernel[off:min(off+len(chunk), len(kernel))]; !bytes.Equal(chunk[:n], want) {
			t.Fatalf("ReadFull at %d: %d bytes differ (err %v)", off, n, err)
		}
	}
	for _, off := range []int64{0, 1, 4095, 4097, 1<<20 - 1, 1<<20 + 1, 3<<20 + 12345, int64(len(kernel)) - 3} {
		for _, size := range []int{1, 7, 128<<10 + 5, 2<<20 + 3} {
			buf := make([]byte, size)
			n, err := f.ReadAt(buf, off)
			want := kernel[off:min(off+int64(size), int64(len(kernel)))]
			if !bytes.Equal(buf[:n], want) || (err != nil && !(errors.Is(err, io.EOF) && n < size)) {
				t.Errorf("pread %d+%d: %d bytes, err %v; want %d bytes", off, size, n, err, len(want))
			}
		}
	}

	tf := m.root.snapshot().dirs["ubuntu/amd64/ga-22.04/jammy/stable"].kids["boot-kernel"].file
	st := stat(t, m.path(kernelPath))
	if st.Mode != syscall.S_IFREG|0o444 || st.Size != int64(len(kernel)) || st.Nlink != 1 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("file stat: mode %o size %d nlink %d owner %d:%d", st.Mode, st.Size, st.Nlink, st.Uid, st.Gid)
	}
	if st.Ino != tf.ino || st.Mtim.Sec != int64(fileMtime(digest.Of(kernel))) {
		t.Errorf("file stat: ino %d mtime %d, want %d %d", st.Ino, st.Mtim.Sec, tf.ino, tf.mtime)
	}
	if st := stat(t, m.path("ubuntu/amd64")); st.Mode != syscall.S_IFDIR|0o555 || st.Nlink != 3 {
		t.Errorf("dir stat: mode %o nlink %d", st.Mode, st.Nlink)
	}
	if st := stat(t, m.dir); st.Ino != 1 || st.Mode != syscall.S_IFDIR|0o555 {
		t.Errorf("root stat: ino %d mode %o", st.Ino, st.Mode)
	}
	if got, want := readDirNames(t, m.dir), []string{"bootloaders", "bootx64.efi", "empty", "images", "ubuntu"}; !slices.Equal(got, want) {
		t.Errorf("root lists %q, want %q", got, want)
	}

	var sfs unix.Statfs_t
	if err := unix.Statfs(m.dir, &sfs); err != nil {
		t.Fatal(err)
	}
	if sfs.Type != fuseSuperMagic || sfs.Bfree != 0 || sfs.Blocks == 0 {
		t.Errorf("statfs: type %#x blocks %d free %d", sfs.Type, sfs.Blocks, sfs.Bfree)
	}
	opts, fstype, source := mountInfo(t, m.dir)
	if !slices.Contains(strings.Split(opts, ","), "ro") || fstype != "fuse.bootfs" || source != "bootfs" {
		t.Errorf("mountinfo: options %q type %q source %q", opts, fstype, source)
	}
}

func TestMountReadErrorIsEIO(t *testing.T) {
	m := mountRig(t, Options{}, MountOptions{}, files{"bad": randBytes(40, 300_000)})
	m.c.setFail(digest.Of(randBytes(40, 300_000)), errInjected)
	for range 3 {
		if _, err := os.ReadFile(m.path("bad")); !errors.Is(err, syscall.EIO) {
			t.Fatalf("read: %v, want EIO", err)
		}
	}
	if n := m.logs.count(slog.LevelError); n != 1 {
		t.Errorf("%d error logs, want 1", n)
	}
	if s := m.root.Stats(); s.ReadErrors < 3 {
		t.Errorf("%d read errors counted, want >= 3", s.ReadErrors)
	}
}

func TestMountKeepsPageCache(t *testing.T) {
	content := randBytes(50, 64<<10)
	m := mountRig(t, Options{}, MountOptions{}, files{"f": content})
	for i := range 3 {
		if b, err := os.ReadFile(m.path("f")); err != nil || !bytes.Equal(b, content) {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	// The first read filled the page cache; FOPEN_KEEP_CACHE keeps it
	// across the later opens (without it every open drops the cache).
	first := m.c.callsFor(digest.Of(content))
	if b, err := os.ReadFile(m.path("f")); err != nil || !bytes.Equal(b, content) {
		t.Fatal(err)
	}
	if n := m.c.callsFor(digest.Of(content)); n != first {
		t.Errorf("re-open read content again: %d reads, then %d", first, n)
	}
}
