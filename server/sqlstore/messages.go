package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/rmsproject/rms/server"
)

// once applies fn at most once per ref. The message row is inserted first,
// with no result yet, and the effect and its result follow in the same
// transaction: a concurrent repeat blocks on the row's key until this
// commits (then reads the result) or rolls back (then applies it itself).
// Errors are not remembered: a failed message may be sent again.
func once[T any](ctx context.Context, s *Store, method string, ref server.MessageRef, now time.Time, fn func(tx *sql.Tx) (T, error)) (T, error) {
	var out T
	if ref.DeviceID == "" || ref.MessageID == "" {
		return out, fail(method, server.CodeMalformed, "device id and message id are required")
	}
	if now.IsZero() {
		now = s.cfg.Now()
	}
	err := s.inTx(ctx, method, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx,
			"INSERT INTO messages (device_id, message_id, op, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (device_id, message_id) DO NOTHING",
			ref.DeviceID, ref.MessageID, method, s.t(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return s.replayed(ctx, tx, method, ref, &out)
		}
		if out, err = fn(tx); err != nil {
			return err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, "UPDATE messages SET result = ? WHERE device_id = ? AND message_id = ?",
			string(b), ref.DeviceID, ref.MessageID)
		return err
	})
	return out, err
}

// replayed loads the first answer to a repeated message.
func (s *Store) replayed(ctx context.Context, tx *sql.Tx, method string, ref server.MessageRef, out any) error {
	var op string
	var result sql.NullString
	err := s.queryRow(ctx, tx, "SELECT op, result FROM messages WHERE device_id = ? AND message_id = ?",
		ref.DeviceID, ref.MessageID).Scan(&op, &result)
	if err != nil {
		return err
	}
	if op != method {
		return fail(method, server.CodeConflict, "message id %s was already used for another operation", ref.MessageID)
	}
	if !result.Valid {
		return nil
	}
	return json.Unmarshal([]byte(result.String), out)
}
