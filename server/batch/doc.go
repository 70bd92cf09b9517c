// Package batch is group commit: many goroutines hand in one item each and
// wait, one flusher writes everything that arrived meanwhile in a single
// store call, and each caller gets its own result once that call returned.
//
// It is what turns 5,000 heartbeats a second into a few hundred
// transactions without ever answering a device before its data is durable:
// a caller returns only after the flush that carried its item returned.
// While one flush runs the next batch fills, so the batch size grows with
// the load and latency stays near one store round trip.
package batch
