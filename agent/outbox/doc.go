// Package outbox is the agent's durable store-and-forward queue: every
// message the agent means to send is written here, fsynced, before any
// attempt to send it, and deleted only once the server acknowledged it.
//
// # Why bbolt
//
// bbolt is a single-file, copy-on-write B+tree with one writer at a time
// and fully serialisable transactions. A commit writes the changed pages,
// fsyncs, then writes and fsyncs the meta page that makes them live, so a
// process killed (or a machine losing power) at any point leaves either the
// old state or the new one, never a mix. That is exactly the guarantee a
// store-and-forward queue needs, with no server, no cgo and no recovery
// code of our own.
//
// NoSync stays false on purpose: Put promises the message is on disk when
// it returns, and the agent may then tell the device (or drop its own
// in-memory copy). With NoSync a power cut would silently lose the last
// seconds of alarms. The cost is one or two fsyncs per Put (see the
// benchmark in outbox_bench_test.go); at one heartbeat a minute per device
// that is nothing.
//
// # Layout of the file
//
//   - msgs:  seq (8 bytes, big endian) → encoded Message. The bucket's
//     NextSequence assigns Seq, so sequence numbers never repeat, even after
//     every message was acknowledged and the process restarted.
//   - dev/<deviceID>: seq → kind. Per-device index, so Pending for one device
//     of a gateway does not walk the others' messages; emptied device
//     buckets are removed.
//   - hb:    seq → deviceID, heartbeats only. Coalescing walks it oldest
//     first without touching anything else.
//   - meta:  the message count and byte total, updated in the same
//     transaction as the messages they count, so they are never out of step
//     (and so Open need not read 64 MiB to learn them).
//
// # Full
//
// The bound is on Size (payload plus metadata bytes), not on the file,
// whose size bbolt manages (pages freed by Ack are reused, not returned to
// the filesystem). When a Put would pass MaxBytes, heartbeats are dropped
// oldest first — but first only those that are not their device's newest,
// since the newest one still tells the server the device's latest state —
// and only if that makes the new message fit: all in the Put's own
// transaction, so a Put that fails with ErrFull has dropped nothing.
// Alarms, instruction results and audit events are never dropped; when
// they alone fill the outbox, Put fails with ErrFull, logged once at error
// level when the outbox turns full, and the agent stops accepting new
// samples until acknowledgements make room.
package outbox
