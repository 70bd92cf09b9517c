// Package uploads keeps device uploads as files under the data directory:
// chunks are appended to <id>.part and fsynced before the store's offset
// moves, so after a crash on either side the upload resumes from the last
// offset that is both on disk and recorded. A committed upload becomes
// <id> (decompressed when it was sent gzip) beside <id>.json, its metadata.
//
// Replicas must share the directory (or route a device's uploads to one
// replica); the store's offset check keeps two writers from interleaving.
package uploads
