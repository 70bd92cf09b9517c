package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/rmsproject/rms/server"
)

// RecordReplays implements server.ReplayStore with one insert per chunk:
// the keys RETURNING gives back are new, the rest were seen before. A key
// twice in one batch is new once, then a replay.
func (s *Store) RecordReplays(ctx context.Context, records []server.ReplayRecord) ([]bool, error) {
	const method = "RecordReplays"
	if len(records) == 0 {
		return nil, nil
	}
	for _, r := range records {
		if r.Key == "" {
			return nil, fail(method, server.CodeMalformed, "replay key is required")
		}
	}
	var replay []bool
	err := s.inTx(ctx, method, func(tx *sql.Tx) (err error) {
		replay, err = s.recordReplays(ctx, tx, records)
		return err
	})
	if err != nil {
		return nil, err
	}
	return replay, nil
}

// Housekeep implements server.Store.
func (s *Store) Housekeep(ctx context.Context, now time.Time) (int, error) {
	const method = "Housekeep"
	var expired int64
	err := s.inTx(ctx, method, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `UPDATE instructions SET status = 'expired', updated_at = ?
			WHERE status = 'queued' AND expires_at <= ?`, s.t(now), s.t(now))
		if err != nil {
			return err
		}
		if expired, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, "DELETE FROM messages WHERE created_at < ?", s.t(now.Add(-s.cfg.MessageRetention))); err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, "DELETE FROM replays WHERE until <= ?", s.t(now))
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(expired), nil
}

// recordReplays records keys inside tx and reports, per record, whether
// its key was there before (or earlier in the same batch).
func (s *Store) recordReplays(ctx context.Context, tx *sql.Tx, records []server.ReplayRecord) ([]bool, error) {
	first := map[string]int{}
	var uniq []server.ReplayRecord
	for i, r := range records {
		if _, ok := first[r.Key]; !ok {
			first[r.Key] = i
			uniq = append(uniq, r)
		}
	}
	replay := make([]bool, len(records))
	for i := range replay {
		replay[i] = true
	}
	err := chunks(uniq, rowsPerStatement, func(c []server.ReplayRecord) error {
		args := make([]any, 0, len(c)*2)
		for _, r := range c {
			args = append(args, r.Key, s.t(r.Until))
		}
		rows, err := s.query(ctx, tx, "INSERT INTO replays (key, until) VALUES "+placeholders(len(c), 2)+
			" ON CONFLICT (key) DO NOTHING RETURNING key", args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			replay[first[k]] = false
		}
		return rows.Err()
	})
	return replay, err
}
