// Package sqlstore implements server.Store on PostgreSQL (lib/pq), for
// production and several replicas, and on SQLite (modernc.org/sqlite, pure
// Go), the single-node default that needs nothing installed.
//
// One body of Go and SQL serves both; a small dialect value holds what
// differs. The choices, and why:
//
//   - Queries are written once with ? placeholders and rebound for
//     PostgreSQL: both engines speak ON CONFLICT, RETURNING, row values,
//     partial indexes and MATERIALIZED CTEs, so little else differs.
//   - Migrations are embedded and shared, with column-type macros filled
//     per dialect, so the schema cannot drift between engines; PostgreSQL
//     runs them under pg_advisory_lock so replicas starting together
//     migrate once.
//   - Times are timestamptz on PostgreSQL and unix microseconds on SQLite:
//     both exact to the microsecond the audit hash uses, both ordered.
//   - Idempotency: the (device, message) row is inserted before the effect
//     in the same transaction, so a concurrent repeat waits on its key and
//     then reads the stored result instead of applying the effect twice.
//   - SQLite writes go through one connection (Go queues writers, none sees
//     SQLITE_BUSY) with WAL so a separate read pool reads alongside;
//     synchronous=FULL because an answered request must be on disk.
//   - Heartbeat batches cost a fixed number of multi-row statements, not
//     one per heartbeat; device rows are locked in id order against
//     deadlocks between batches.
//   - Instructions are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL, so
//     replicas never hand one out twice nor wait on each other.
//   - Queueing NOTIFYs inside its transaction (it fires on commit); one
//     pq.Listener per Store fans wake-ups out to in-process watchers, so a
//     long-poll holds no pool connection.
//   - The audit chain head is a single locked row, so every replica extends
//     one unbroken chain.
//   - Page tokens are base64 keyset cursors: stable under inserts, and
//     opaque to callers. A limit above server.MaxPageSize is clamped.
package sqlstore
