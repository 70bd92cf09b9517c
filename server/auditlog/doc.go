// Package auditlog appends to the server's hash-chained audit trail in
// batches (one chain-head lock per batch rather than per record) and checks
// a stored chain end to end.
package auditlog
