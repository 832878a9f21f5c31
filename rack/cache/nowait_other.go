//go:build unix && !linux

package cache

import "errors"

var errNoWaitUnsupported = errors.New("RWF_NOWAIT reads unsupported")

// readCached needs preadv2(RWF_NOWAIT), which only Linux has; elsewhere every
// read is checked.
func (f blockFile) readCached(p []byte, off int64) (bool, error) {
	return false, errNoWaitUnsupported
}
