// Package payload derives a message's payload from its id, so the crash
// test can tell a stored message that is intact from one that is not
// without the putter having to report payloads.
package payload

import (
	"fmt"
	"hash/crc32"
	"strings"
)

// For returns the payload the putter stores under message id.
func For(id string) []byte {
	n := int(crc32.ChecksumIEEE([]byte(id)) % 2000)
	return fmt.Appendf(nil, "<m id=%q>%s</m>", id, strings.Repeat("x", n))
}
