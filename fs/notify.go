package fs

import (
	"slices"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// notify tells the kernel what changed between prev and next (see the
// package documentation). It must run with updateMu held and no lock that a
// FUSE handler takes: the kernel processes an invalidation under the
// directory's lock, waiting for lookups in flight there.
func (r *Root) notify(prev, next *tree) {
	r.stats.updates.Add(1)
	if !r.attached.Load() {
		return // nothing to tell: no kernel has seen this tree yet
	}
	var failures int
	var firstErr syscall.Errno
	var firstPath string
	record := func(errno syscall.Errno, path string) {
		switch errno {
		case 0:
			r.stats.notifications.Add(1)
		case syscall.ENOENT, syscall.ENOSYS:
			// ENOENT: the kernel has nothing cached under that
			// name. ENOSYS: not mounted (yet).
		default:
			r.stats.notifyFailures.Add(1)
			if failures == 0 {
				firstErr, firstPath = errno, path
			}
			failures++
		}
	}
	for path, old := range prev.dirs {
		cur := next.dirs[path]
		if cur == nil {
			continue // its parent's entry for it is invalidated below
		}
		names := changedNames(old, cur)
		if len(names) == 0 {
			continue
		}
		in := r.kernelDir(path)
		if in == nil {
			continue // the kernel holds nothing of this directory
		}
		for _, name := range names {
			record(in.NotifyEntry(name), joinPath(path, name))
		}
		// Refresh the directory's own attributes (nlink); offset -1
		// leaves data caches alone.
		record(in.NotifyContent(-1, 0), path)
	}
	if failures > 0 {
		r.log.Warn("kernel cache invalidation failed; stale entries may live until their timeout",
			"failures", failures, "path", firstPath, "err", firstErr)
	}
}

// changedNames lists, sorted, the names whose entry differs between a and b:
// added, removed, turned from file to directory or back, or a file now
// backed by a different inode.
func changedNames(a, b *dirInfo) []string {
	var out []string
	for name, ca := range a.kids {
		if cb, ok := b.kids[name]; !ok || !ca.same(cb) {
			out = append(out, name)
		}
	}
	for name := range b.kids {
		if _, ok := a.kids[name]; !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// kernelDir returns go-fuse's Inode for the directory at path if the kernel
// may hold it (go-fuse keeps a node linked to its parent while the kernel
// references it), else nil.
func (r *Root) kernelDir(path string) *gofs.Inode {
	in := &r.Inode
	if path == "" {
		return in
	}
	for _, name := range strings.Split(path, "/") {
		in = in.GetChild(name)
		if in == nil || !in.IsDir() {
			return nil
		}
	}
	return in
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
