// Package ingest writes heartbeats in batches: concurrent requests are group
// committed into one store transaction, and each request is answered only
// after the transaction holding its heartbeat committed.
package ingest
