//go:build unix

package adapters

import (
	"os"
	"syscall"
)

// fileID is the device and inode of a file: what tells a rotated log
// from the one the adapter was reading, across restarts too.
func fileID(fi os.FileInfo) (dev, ino uint64, ok bool) {
	if fi == nil {
		return 0, 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Ino), true //nolint:unconvert // Dev is int32 on some platforms
}
