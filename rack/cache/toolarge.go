package cache

import "sort"

// TooLarge returns the paths of files (path to size in bytes) larger than a
// cache of limit bytes: such a file is only ever read through the cache,
// never held, so every boot fetches it again. It also returns a cache size
// that would hold the largest of them with a quarter to spare for the files
// booted alongside (rounded up to a GiB), or 0 when every file fits.
// `bootfs status` and the mount's log use it to warn and suggest cache_size.
func TooLarge(limit int64, files map[string]int64) (paths []string, suggest int64) {
	var largest int64
	for p, n := range files {
		if n > limit {
			paths = append(paths, p)
			largest = max(largest, n)
		}
	}
	sort.Strings(paths)
	if largest == 0 {
		return nil, 0
	}
	const gib = 1 << 30
	want := largest + largest/4
	return paths, (want + gib - 1) / gib * gib
}
