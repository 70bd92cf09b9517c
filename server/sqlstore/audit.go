package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/rmsproject/rms/server"
)

// AppendAudit implements server.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, entries []server.AuditEntry) ([]server.AuditRecord, error) {
	const method = "AppendAudit"
	if err := checkAudit(method, entries); err != nil || len(entries) == 0 {
		return nil, err
	}
	var out []server.AuditRecord
	err := s.inTx(ctx, method, func(tx *sql.Tx) (err error) {
		out, err = s.appendAudit(ctx, tx, entries)
		return err
	})
	return out, err
}

// AppendDeviceAudit implements server.AuditStore.
func (s *Store) AppendDeviceAudit(ctx context.Context, ref server.MessageRef, entries []server.AuditEntry) (int, error) {
	const method = "AppendDeviceAudit"
	if err := checkAudit(method, entries); err != nil {
		return 0, err
	}
	return once(ctx, s, method, ref, s.cfg.Now(), func(tx *sql.Tx) (int, error) {
		recs, err := s.appendAudit(ctx, tx, entries)
		return len(recs), err
	})
}

func checkAudit(method string, entries []server.AuditEntry) error {
	for _, e := range entries {
		if e.Action == "" {
			return fail(method, server.CodeMalformed, "audit action is required")
		}
	}
	return nil
}

// appendAudit extends the chain inside tx. The chain head is one row that
// every appender locks first (FOR UPDATE on PostgreSQL; SQLite's single
// writer already serialises), so replicas append to one chain, in turn.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, entries []server.AuditEntry) ([]server.AuditRecord, error) {
	var seq int64
	var prev string
	if err := s.queryRow(ctx, tx, "SELECT seq, hash FROM audit_head WHERE id = 1"+s.d.forUpdate).Scan(&seq, &prev); err != nil {
		return nil, err
	}
	recs := make([]server.AuditRecord, len(entries))
	for i, e := range entries {
		if e.Time.IsZero() {
			e.Time = s.cfg.Now()
		}
		// What is hashed must be what a later read returns.
		e.Time = e.Time.UTC().Truncate(time.Microsecond)
		seq++
		recs[i] = server.AuditRecord{AuditEntry: e, Sequence: seq, PrevHash: prev, Hash: server.AuditHash(prev, seq, e)}
		prev = recs[i].Hash
	}
	err := chunks(recs, rowsPerStatement, func(c []server.AuditRecord) error {
		args := make([]any, 0, len(c)*10)
		for _, r := range c {
			args = append(args, r.Sequence, s.t(r.Time), r.Actor, r.Action, r.Target, string(r.Outcome), string(r.Code),
				r.Detail, r.PrevHash, r.Hash)
		}
		_, err := s.exec(ctx, tx, "INSERT INTO audit (seq, time, actor, action, target, outcome, code, detail, prev_hash, hash) VALUES "+
			placeholders(len(c), 10), args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.exec(ctx, tx, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", seq, prev); err != nil {
		return nil, err
	}
	return recs, nil
}

const auditCols = "seq, time, actor, action, target, outcome, code, detail, prev_hash, hash"

func scanAudit(r scanner) (server.AuditRecord, error) {
	var a server.AuditRecord
	var outcome, code string
	err := r.Scan(&a.Sequence, tcol{&a.Time}, &a.Actor, &a.Action, &a.Target, &outcome, &code, &a.Detail, &a.PrevHash, &a.Hash)
	a.Outcome, a.Code = server.AuditOutcome(outcome), server.Code(code)
	return a, err
}

func (s *Store) audit(ctx context.Context, query string, args ...any) ([]server.AuditRecord, error) {
	rows, err := s.query(ctx, s.r, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []server.AuditRecord
	for rows.Next() {
		a, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// QueryAudit implements server.AuditStore: From <= Time < To, newest
// (highest sequence) first.
func (s *Store) QueryAudit(ctx context.Context, f server.AuditFilter, p server.Page) ([]server.AuditRecord, string, error) {
	const method = "QueryAudit"
	limit, cur, err := page(method, p)
	if err != nil {
		return nil, "", err
	}
	var w where
	if !f.From.IsZero() {
		w.add("time >= ?", s.t(f.From))
	}
	if !f.To.IsZero() {
		w.add("time < ?", s.t(f.To))
	}
	w.eq("actor", f.Actor)
	w.eq("action", f.Action)
	w.eq("target", f.Target)
	if cur != nil {
		w.add("seq < ?", cur.S)
	}
	out, err := s.audit(ctx, "SELECT "+auditCols+" FROM audit"+w.String()+" ORDER BY seq DESC LIMIT ?", append(w.args, limit+1)...)
	if err != nil {
		return nil, "", unavailable(method, err)
	}
	out, next := cut(out, limit, func(i int) cursor { return cursor{S: out[i].Sequence} })
	return out, next, nil
}

// ScanAudit implements server.AuditStore. It reads in chunks and calls fn
// between them, so a slow fn never holds a connection.
func (s *Store) ScanAudit(ctx context.Context, from int64, fn func(server.AuditRecord) error) error {
	const chunk = 1000
	for {
		recs, err := s.audit(ctx, "SELECT "+auditCols+" FROM audit WHERE seq >= ? ORDER BY seq LIMIT ?", from, chunk)
		if err != nil {
			return unavailable("ScanAudit", err)
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(recs) < chunk {
			return nil
		}
		from = recs[len(recs)-1].Sequence + 1
	}
}
