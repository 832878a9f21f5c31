package fs

import "sync/atomic"

// Stats are counters since NewRoot and the size of the current tree, for
// metrics and status pages.
type Stats struct {
	Generation string // of the current tree
	Files      int    // files in the current tree
	Dirs       int    // directories in the current tree, the root included
	Bytes      int64  // sum of the current files' sizes

	Lookups         uint64 // LOOKUPs answered (readdirplus included)
	NegativeLookups uint64 // of which ENOENT
	Opens           uint64
	// PassthroughOpens counts the opens (of Opens) answered with a backing
	// file for FUSE passthrough; the kernel then reads that file itself
	// and those reads are not counted below.
	PassthroughOpens uint64
	Reads            uint64 // successful READs
	ReadBytes        uint64
	// LentReads counts the READs (of Reads) answered from bytes the
	// Content lent (Lender) rather than copied into the FUSE buffer:
	// SplicedReads of them were spliced by the kernel from a file.
	LentReads      uint64
	SplicedReads   uint64
	ReadErrors     uint64 // READs answered EIO
	Interrupted    uint64 // READs answered EINTR
	Updates        uint64 // trees installed by Update
	Notifications  uint64 // invalidations the kernel accepted
	NotifyFailures uint64 // invalidations that failed unexpectedly
}

// counters are the live counters behind Stats.
type counters struct {
	lookups, negativeLookups, opens           atomic.Uint64
	passthroughOpens                          atomic.Uint64
	reads, readBytes, readErrors, interrupted atomic.Uint64
	lentReads, splicedReads                   atomic.Uint64
	updates, notifications, notifyFailures    atomic.Uint64
}

// Stats returns the current counters.
func (r *Root) Stats() Stats {
	t := r.snapshot()
	return Stats{
		Generation:       t.generation,
		Files:            t.files,
		Dirs:             len(t.dirs),
		Bytes:            t.bytes,
		Lookups:          r.stats.lookups.Load(),
		NegativeLookups:  r.stats.negativeLookups.Load(),
		Opens:            r.stats.opens.Load(),
		PassthroughOpens: r.stats.passthroughOpens.Load(),
		Reads:            r.stats.reads.Load(),
		ReadBytes:        r.stats.readBytes.Load(),
		LentReads:        r.stats.lentReads.Load(),
		SplicedReads:     r.stats.splicedReads.Load(),
		ReadErrors:       r.stats.readErrors.Load(),
		Interrupted:      r.stats.interrupted.Load(),
		Updates:          r.stats.updates.Load(),
		Notifications:    r.stats.notifications.Load(),
		NotifyFailures:   r.stats.notifyFailures.Load(),
	}
}
