package importer

import (
	"cmp"
	"maps"
	"slices"
	"sync"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
)

// refusals is what the importer refused, for Status: the products refused
// by the latest metadata read, and the bootloader archives that cannot be
// extracted (by archive digest; an archive's bytes never change, so one
// refused stays refused and is not read again).
type refusals struct {
	mu       sync.Mutex
	meta     []wire.Refusal
	archives map[digest.Digest]wire.Refusal
}

func (r *refusals) setMeta(list []wire.Refusal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.meta = list
}

// archive returns the refusal recorded for archive d, if any.
func (r *refusals) archive(d digest.Digest) (wire.Refusal, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.archives[d]
	return w, ok
}

// setArchives replaces the refused archives by those of the latest
// extraction pass (archives no longer held drop out).
func (r *refusals) setArchives(m map[digest.Digest]wire.Refusal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.archives = m
}

// list returns every refusal: products by source and id, then archives.
func (r *refusals) list() []wire.Refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.meta)
	arch := slices.Collect(maps.Values(r.archives))
	slices.SortFunc(arch, func(a, b wire.Refusal) int {
		return cmp.Or(cmp.Compare(a.Product, b.Product), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Item, b.Item))
	})
	return append(out, arch...)
}
