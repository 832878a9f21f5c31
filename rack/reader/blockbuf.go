package reader

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bootfs/bootfs/internal/digest"
)

// Block buffers live in 2 MiB anonymous mappings advised MADV_HUGEPAGE,
// two buffers per huge page, rather than on the Go heap (4 KiB pages).
// Every cold byte is touched four times in such a buffer: the socket read
// copies it in, the block digest reads it, the O_DIRECT cache write pins
// its pages (get_user_pages, per page), and the FUSE reply copies it out
// (pinning them again). With 4 KiB pages the pinning walks 256 page table
// entries per block and each copy misses the TLB 256 times; with a huge
// page, once. Measured in docs/benchmarks.md ("Block buffers on huge
// pages").
//
// The buffers are never unmapped: a free list keeps them for the next
// block, so the memory held is the most ever out at once (the memory LRU
// plus the blocks in flight, a few dozen MiB), which is what the sync.Pool
// this replaces held between collections as well. Where the kernel gives no
// huge pages (THP off, or none free) the mapping is still good, in 4 KiB
// pages; where mmap itself fails the buffers come from the Go heap.

// hugePage is the size of an x86-64 / arm64 (4 KiB base) transparent huge
// page.
const hugePage = 2 << 20

// blockBufs is the process's free list of block buffers.
var blockBufs bufArena

type bufArena struct {
	mu   sync.Mutex
	free []*[]byte
}

// get returns a digest.BlockSize buffer (its content is whatever the last
// user left).
func (a *bufArena) get() *[]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := len(a.free); n > 0 {
		b := a.free[n-1]
		a.free[n-1] = nil
		a.free = a.free[:n-1]
		return b
	}
	bufs := hugeBlockBufs()
	a.free = append(a.free, bufs[1:]...)
	return bufs[0]
}

// put returns b to the free list. b must not be used after.
func (a *bufArena) put(b *[]byte) {
	a.mu.Lock()
	a.free = append(a.free, b)
	a.mu.Unlock()
}

// hugeBlockBufs maps one huge page aligned on its size and cuts it into
// block buffers; on failure it returns one buffer from the Go heap.
func hugeBlockBufs() []*[]byte {
	// Map twice the size to find an aligned huge page inside, then unmap
	// the rest (by address: unix.Munmap only takes whole mappings).
	p, err := unix.MmapPtr(-1, 0, nil, 2*hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		b := make([]byte, digest.BlockSize)
		return []*[]byte{&b}
	}
	lead := (hugePage - uintptr(p)%hugePage) % hugePage
	if lead > 0 {
		_ = unix.MunmapPtr(p, lead)
	}
	_ = unix.MunmapPtr(unsafe.Add(p, lead+hugePage), hugePage-lead)
	page := unsafe.Slice((*byte)(unsafe.Add(p, lead)), hugePage)
	// EINVAL where the kernel has no THP: the page works all the same.
	_ = unix.Madvise(page, unix.MADV_HUGEPAGE)
	out := make([]*[]byte, 0, hugePage/digest.BlockSize)
	for off := 0; off+digest.BlockSize <= hugePage; off += digest.BlockSize {
		b := page[off : off+digest.BlockSize : off+digest.BlockSize]
		out = append(out, &b)
	}
	return out
}
