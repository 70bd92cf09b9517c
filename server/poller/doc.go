// Package poller answers RequestInstructions long-polls. A waiting poll
// holds no database connection: it waits on the store's wake-up channel
// (LISTEN/NOTIFY on PostgreSQL, so a queue on any replica wakes it) and
// touches the store only to check and to claim.
package poller
