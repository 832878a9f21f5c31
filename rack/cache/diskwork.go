package cache

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"

	"github.com/bootfs/bootfs/internal/digest"
)

// Disk work off the lock. Freeing a removed block's slot (punching it) and
// unlinking a content file left without blocks are decided under Cache.mu
// (which block, which file record) but done after it is released: the
// deciding code queues a diskOp, and whoever released the lock (c.unlock)
// runs the queue. So a read, which takes the lock only to look an entry up
// and pin it, never waits behind a fallocate or an unlink (or a slow disk
// under them).
//
// The invariants the lock used to give:
//
//   - a punch or unlink never races with a Put writing into the same file:
//     every queued or running op counts in Cache.diskBusy for its file
//     digest, and a Put of a block of that file waits (running the queue
//     itself first) until none is left; it creates the file's new record,
//     or writes into the slot, only then. A new record of a digest is thus
//     created only after the old file is unlinked, which adoptFD relies on;
//   - an op is checked again under the lock just before it runs (the same
//     conditions punchLocked checked when it queued it): a block pinned
//     again, taken by a new entry or in a fragile file is not punched;
//   - nothing runs after Close: ops are skipped once Cache.closed is set,
//     and Close waits (Cache.diskWG) for the ones running.

// diskOp is one piece of queued disk work on the content file of f.
type diskOp struct {
	f      *cfile
	unlink bool // unlink f's file (and its fragile marker when marker); else punch key's slot
	marker bool
	key    Key
}

// queueLocked queues op. Caller holds c.mu and calls c.unlock.
func (c *Cache) queueLocked(op diskOp) {
	c.diskq = append(c.diskq, op)
	c.diskBusy[op.f.d]++
}

// unlock releases c.mu and runs the disk work queued under it.
func (c *Cache) unlock() {
	queued := len(c.diskq) > 0
	c.mu.Unlock()
	if queued {
		c.runDisk()
	}
}

// runDisk runs the queued disk work, one op at a time, outside the lock.
func (c *Cache) runDisk() {
	for {
		c.mu.Lock()
		if len(c.diskq) == 0 {
			c.mu.Unlock()
			return
		}
		op := c.diskq[0]
		c.diskq[0] = diskOp{}
		c.diskq = c.diskq[1:]
		if len(c.diskq) == 0 {
			c.diskq = nil
		}
		run := !c.closed && (op.unlink || c.punchableLocked(op.f, op.key))
		if run {
			c.diskWG.Add(1)
		}
		c.mu.Unlock()

		if run {
			c.doDisk(op)
			c.diskWG.Done()
		}

		c.mu.Lock()
		if c.diskBusy[op.f.d]--; c.diskBusy[op.f.d] <= 0 {
			delete(c.diskBusy, op.f.d)
		}
		c.diskCond.Broadcast()
		c.mu.Unlock()
	}
}

// doDisk does op's system calls. No lock is held.
func (c *Cache) doDisk(op diskOp) {
	if c.diskHook != nil {
		c.diskHook(op)
	}
	if !op.unlink {
		// The whole slot: a partial filesystem block would only be zeroed.
		e := entry{key: op.key}
		if err := punch(op.f.path, e.off(), digest.BlockSize); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.diskErrors.Add(1)
			c.log.Warn("cannot free a cached block's space", append(op.key.attrs(), slog.String("path", op.f.path), slog.Any("err", err))...)
		}
		return
	}
	if err := os.Remove(op.f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.diskErrors.Add(1)
		c.log.Warn("cannot remove a cached file", slog.String("path", op.f.path), slog.Any("err", err))
	}
	if op.marker {
		os.Remove(c.markerPath(op.f.d))
	}
}

// waitDiskLocked waits until no disk work is queued or running on the
// file of d, running the queue itself first. Caller holds c.mu; it is
// released meanwhile.
func (c *Cache) waitDiskLocked(d digest.Digest) {
	for c.diskBusy[d] > 0 && !c.closed {
		if len(c.diskq) > 0 {
			c.mu.Unlock()
			c.runDisk()
			c.mu.Lock()
			continue
		}
		c.diskCond.Wait()
	}
}
