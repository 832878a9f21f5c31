package e2e

import "testing"

// TestRack runs the rack's end-to-end tests against one rig (two regions
// holding a dev mirror whose kernel and initrd boot). The subtests do not
// depend on each other's results; RegionKilled, which stops region1, runs
// last.
func TestRack(t *testing.T) {
	g := newRig(t)
	t.Run("TFTP", g.testTFTP)
	t.Run("HTTP", g.testHTTP)
	t.Run("PXEBoot", g.testPXE)
	t.Run("MAASURLs", g.testMAASURLs)
	t.Run("UEFIBoot", g.testUEFIBoot)
	t.Run("ConcurrentColdReaders", g.testConcurrentColdReaders)
	t.Run("CorruptBlock", g.testCorruptBlock)
	t.Run("SmallCache", g.testSmallCache)
	t.Run("Remount", g.testRemount)
	t.Run("CorruptCacheEntry", g.testCorruptCacheEntry)
	t.Run("CacheDiskFull", g.testCacheDiskFull)
	t.Run("ReadOnly", g.testReadOnly)
	t.Run("BadMounts", g.testBadMounts)
	t.Run("StatusAndWarm", g.testStatusAndWarm)
	t.Run("Prefetch", g.testPrefetch)
	t.Run("Signals", g.testSignals)
	t.Run("Fstab", g.testFstab)
	t.Run("RegionKilled", g.testRegionKilled)
}
