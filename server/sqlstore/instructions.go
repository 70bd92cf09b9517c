package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/rmsproject/rms/server"
)

// DefaultClaim is how many instructions ClaimInstructions hands out when
// asked for max <= 0.
const DefaultClaim = 10

const instructionCols = `seq, id, device_id, type, parameters, status, created_by, created_at, expires_at,
	updated_at, exit_code, output, finished_at, upload_id`

func scanInstruction(r scanner) (int64, *server.Instruction, error) {
	var in server.Instruction
	var seq int64
	var status string
	err := r.Scan(&seq, &in.ID, &in.DeviceID, &in.Type, jcol{&in.Parameters}, &status, &in.CreatedBy,
		tcol{&in.CreatedAt}, tcol{&in.ExpiresAt}, tcol{&in.UpdatedAt}, &in.ExitCode, &in.Output,
		tcol{&in.FinishedAt}, &in.UploadID)
	if err != nil {
		return 0, nil, err
	}
	in.Status, in.Parameters = server.InstructionStatus(status), nilIfEmpty(in.Parameters)
	return seq, &in, nil
}

func (s *Store) getInstruction(ctx context.Context, q querier, method, where string, args ...any) (*server.Instruction, error) {
	_, in, err := scanInstruction(s.queryRow(ctx, q, "SELECT "+instructionCols+" FROM instructions WHERE "+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail(method, server.CodeNotFound, "instruction not found")
	}
	if err != nil {
		return nil, unavailable(method, err)
	}
	return in, nil
}

// QueueInstruction implements server.InstructionStore. A TTL above
// MaxInstructionTTL is clamped to it. The wake-up goes out on commit: NOTIFY
// is transactional on PostgreSQL, and the in-process wake follows Commit.
func (s *Store) QueueInstruction(ctx context.Context, in server.NewInstruction, now time.Time) (*server.Instruction, error) {
	const method = "QueueInstruction"
	if in.DeviceID == "" || in.Type == "" {
		return nil, fail(method, server.CodeMalformed, "device id and instruction type are required")
	}
	ttl := in.TTL
	switch {
	case ttl < 0:
		return nil, fail(method, server.CodeMalformed, "instruction TTL must not be negative")
	case ttl == 0:
		ttl = server.DefaultInstructionTTL
	case ttl > server.MaxInstructionTTL:
		ttl = server.MaxInstructionTTL
	}
	var out *server.Instruction
	queued := false
	err := s.inTx(ctx, method, func(tx *sql.Tx) error {
		if err := s.requireDevice(ctx, tx, method, in.DeviceID); server.CodeOf(err) == server.CodeUnknownDevice {
			return fail(method, server.CodeNotFound, "device %s not found", in.DeviceID)
		} else if err != nil {
			return err
		}
		id := uuid.NewString()
		// A concurrent queue with the same request id waits on the unique
		// index and then finds the first instruction.
		res, err := s.exec(ctx, tx, `INSERT INTO instructions (id, device_id, type, parameters, status, request_id,
			created_by, created_at, expires_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)
			ON CONFLICT (request_id) WHERE request_id <> '' DO NOTHING`,
			id, in.DeviceID, in.Type, js(in.Parameters), in.RequestID, in.CreatedBy, s.t(now), s.t(now.Add(ttl)), s.t(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			out, err = s.getInstruction(ctx, tx, method, "request_id = ?", in.RequestID)
			return err
		}
		if s.d.notify != nil {
			if err := s.d.notify(ctx, tx, notifyChannel, in.DeviceID); err != nil {
				return err
			}
		}
		queued = true
		out, err = s.getInstruction(ctx, tx, method, "id = ?", id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if queued {
		s.hub.wake(in.DeviceID)
	}
	return out, nil
}

// GetInstruction implements server.InstructionStore.
func (s *Store) GetInstruction(ctx context.Context, id string) (*server.Instruction, error) {
	return s.getInstruction(ctx, s.r, "GetInstruction", "id = ?", id)
}

// ListInstructions implements server.InstructionStore, newest first.
func (s *Store) ListInstructions(ctx context.Context, f server.InstructionFilter, p server.Page) ([]server.Instruction, string, error) {
	const method = "ListInstructions"
	limit, cur, err := page(method, p)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.eq("device_id", f.DeviceID)
	w.eq("status", string(f.Status))
	if cur != nil {
		w.add("(created_at, seq) < (?, ?)", s.t(time.UnixMicro(cur.T)), cur.S)
	}
	list, seqs, err := s.instructions(ctx, s.r, "SELECT "+instructionCols+" FROM instructions"+w.String()+
		" ORDER BY created_at DESC, seq DESC LIMIT ?", append(w.args, limit+1)...)
	if err != nil {
		return nil, "", unavailable(method, err)
	}
	list, next := cut(list, limit, func(i int) cursor { return cursor{T: micros(list[i].CreatedAt), S: seqs[i]} })
	return list, next, nil
}

func (s *Store) instructions(ctx context.Context, q querier, query string, args ...any) ([]server.Instruction, []int64, error) {
	return querySeq(ctx, s, q, scanInstruction, query, args...)
}

// querySeq runs a query whose rows scan into a sequence number and a T,
// and returns both lists in row order.
func querySeq[T any](ctx context.Context, s *Store, q querier, scan func(scanner) (int64, *T, error), query string, args ...any) ([]T, []int64, error) {
	rows, err := s.query(ctx, q, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []T
	var seqs []int64
	for rows.Next() {
		seq, v, err := scan(rows)
		if err != nil {
			return nil, nil, err
		}
		out, seqs = append(out, *v), append(seqs, seq)
	}
	return out, seqs, rows.Err()
}

// ClaimInstructions implements server.InstructionStore. max <= 0 means
// DefaultClaim; more than MaxPageSize is clamped. On PostgreSQL, SKIP LOCKED
// lets replicas claim side by side without handing a row out twice; on
// SQLite the single writer does the same.
func (s *Store) ClaimInstructions(ctx context.Context, ref server.MessageRef, max int, now time.Time) ([]server.Instruction, error) {
	const method = "ClaimInstructions"
	if max <= 0 {
		max = DefaultClaim
	}
	max = min(max, server.MaxPageSize)
	return once(ctx, s, method, ref, now, func(tx *sql.Tx) ([]server.Instruction, error) {
		if _, err := s.exec(ctx, tx, `UPDATE instructions SET status = 'expired', updated_at = ?
			WHERE device_id = ? AND status = 'queued' AND expires_at <= ?`, s.t(now), ref.DeviceID, s.t(now)); err != nil {
			return nil, err
		}
		// MATERIALIZED makes the locking SELECT run exactly once; an inlined
		// LIMIT subquery may be re-evaluated and lock other rows.
		list, seqs, err := s.instructions(ctx, tx, `WITH c AS MATERIALIZED (SELECT seq FROM instructions
			WHERE device_id = ? AND status = 'queued' AND expires_at > ? ORDER BY created_at, seq LIMIT ?`+s.d.skipLocked+`)
			UPDATE instructions SET status = 'delivered', updated_at = ? WHERE seq IN (SELECT seq FROM c)
			RETURNING `+instructionCols,
			ref.DeviceID, s.t(now), max, s.t(now))
		if err != nil {
			return nil, err
		}
		// RETURNING has no order of its own.
		idx := make([]int, len(list))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool {
			x, y := list[idx[a]], list[idx[b]]
			if !x.CreatedAt.Equal(y.CreatedAt) {
				return x.CreatedAt.Before(y.CreatedAt)
			}
			return seqs[idx[a]] < seqs[idx[b]]
		})
		out := make([]server.Instruction, len(list))
		for i, j := range idx {
			out[i] = list[j]
		}
		return out, nil
	})
}

// ClaimedBefore implements server.InstructionStore.
func (s *Store) ClaimedBefore(ctx context.Context, ref server.MessageRef) (bool, error) {
	var n int
	err := s.queryRow(ctx, s.r, "SELECT COUNT(*) FROM messages WHERE device_id = ? AND message_id = ? AND op = 'ClaimInstructions'",
		ref.DeviceID, ref.MessageID).Scan(&n)
	if err != nil {
		return false, unavailable("ClaimedBefore", err)
	}
	return n > 0, nil
}

// HasPendingInstructions implements server.InstructionStore.
func (s *Store) HasPendingInstructions(ctx context.Context, deviceID string, now time.Time) (bool, error) {
	var n int
	err := s.queryRow(ctx, s.r, `SELECT COUNT(*) FROM (SELECT 1 FROM instructions
		WHERE device_id = ? AND status = 'queued' AND expires_at > ? LIMIT 1) p`, deviceID, s.t(now)).Scan(&n)
	if err != nil {
		return false, unavailable("HasPendingInstructions", err)
	}
	return n > 0, nil
}

// ReportInstructionResult implements server.InstructionStore. A report on
// a cancelled instruction is answered with cancel=true and changes nothing.
func (s *Store) ReportInstructionResult(ctx context.Context, ref server.MessageRef, r server.InstructionResult, now time.Time) (bool, error) {
	const method = "ReportInstructionResult"
	switch r.Status {
	case server.InstructionAccepted, server.InstructionRunning, server.InstructionSucceeded,
		server.InstructionFailed, server.InstructionRejected:
	default:
		return false, fail(method, server.CodeMalformed, "a device may not report status %q", r.Status)
	}
	return once(ctx, s, method, ref, now, func(tx *sql.Tx) (bool, error) {
		in, err := s.getInstruction(ctx, tx, method, "id = ? AND device_id = ?"+s.d.forUpdate, r.InstructionID, ref.DeviceID)
		if err != nil {
			return false, err
		}
		if in.Status == server.InstructionCancelled {
			return true, nil
		}
		if in.Status.Final() {
			return false, fail(method, server.CodeConflict, "instruction %s is already %s", in.ID, in.Status)
		}
		finished := r.FinishedAt
		if r.Status.Final() && finished.IsZero() {
			finished = now
		}
		_, err = s.exec(ctx, tx, `UPDATE instructions SET status = ?, exit_code = ?, output = ?, finished_at = ?, updated_at = ?
			WHERE id = ?`, string(r.Status), r.ExitCode, r.Output, s.t(finished), s.t(now), in.ID)
		return false, err
	})
}

// CancelInstruction cancels an instruction that is not final yet; a device
// that reports on it afterwards is told to stop (server.InstructionStore).
func (s *Store) CancelInstruction(ctx context.Context, id string, now time.Time) (*server.Instruction, error) {
	const method = "CancelInstruction"
	var out *server.Instruction
	err := s.inTx(ctx, method, func(tx *sql.Tx) error {
		in, err := s.getInstruction(ctx, tx, method, "id = ?"+s.d.forUpdate, id)
		if err != nil {
			return err
		}
		if in.Status.Final() {
			return fail(method, server.CodeConflict, "instruction %s is already %s", id, in.Status)
		}
		if _, err := s.exec(ctx, tx, "UPDATE instructions SET status = 'cancelled', updated_at = ? WHERE id = ?",
			s.t(now), id); err != nil {
			return err
		}
		out, err = s.getInstruction(ctx, tx, method, "id = ?", id)
		return err
	})
	return out, err
}
