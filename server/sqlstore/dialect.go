package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
)

// dialect is everything that differs between PostgreSQL and SQLite. The
// queries themselves are shared: both engines speak ON CONFLICT, RETURNING,
// row values and partial indexes, so what is left is small.
type dialect struct {
	name string
	// dollar placeholders ($1, $2, ...) instead of ?.
	dollar bool
	// forUpdate locks selected rows in a transaction. SQLite needs none: its
	// write transactions are serialised on one connection.
	forUpdate string
	// skipLocked lets concurrent claimers pass over each other's rows.
	skipLocked string
	// notify, when set, tells other processes about a queued instruction;
	// it runs inside the queueing transaction so it fires on commit.
	notify func(ctx context.Context, tx *sql.Tx, channel, payload string) error
	// types fill the shared migrations.
	types *strings.Replacer
	// timeArg turns a time into the column's representation.
	timeArg func(time.Time) any
}

// The LISTEN/NOTIFY channels: queued instructions (payload: the device
// id) and revoked certificates (payload: the serial).
const (
	notifyChannel = "rms_instruction_queued"
	revokeChannel = "rms_certificate_revoked"
)

var postgres = &dialect{
	name:       "postgres",
	dollar:     true,
	forUpdate:  " FOR UPDATE",
	skipLocked: " FOR UPDATE SKIP LOCKED",
	notify: func(ctx context.Context, tx *sql.Tx, channel, payload string) error {
		_, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", channel, payload)
		return err
	},
	types: strings.NewReplacer(
		"{{time}}", "TIMESTAMPTZ",
		"{{json}}", "JSON", // stored as sent: cheaper to write than JSONB, and never queried into
		"{{serial}}", "BIGSERIAL PRIMARY KEY",
		"{{epoch}}", "'epoch'",
	),
	// timestamptz keeps microseconds; truncating here makes what we return
	// equal to what a later read returns.
	timeArg: func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Truncate(time.Microsecond)
	},
}

var sqlite = &dialect{
	name: "sqlite",
	types: strings.NewReplacer(
		"{{time}}", "INTEGER",
		"{{json}}", "TEXT",
		// An INTEGER PRIMARY KEY is the rowid: ever-increasing while
		// nothing is deleted from the top, which these tables never do.
		"{{serial}}", "INTEGER PRIMARY KEY",
		"{{epoch}}", "0",
	),
	// Unix microseconds: exact, ordered, and as precise as PostgreSQL.
	timeArg: func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UnixMicro()
	},
}

// rebind rewrites ? placeholders for the dialect. Queries in this package
// never contain a literal question mark.
func (d *dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
