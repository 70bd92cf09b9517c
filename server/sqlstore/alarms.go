package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/rmsproject/rms/server"
)

const alarmCols = `seq, id, device_id, code, severity, text, state, raised_at, cleared_at,
	acknowledged_by, acknowledged_at, cleared_by, comment, context`

func scanAlarm(r scanner) (int64, *server.Alarm, error) {
	var a server.Alarm
	var seq int64
	var sev, state string
	err := r.Scan(&seq, &a.ID, &a.DeviceID, &a.Code, &sev, &a.Text, &state, tcol{&a.RaisedAt}, tcol{&a.ClearedAt},
		&a.AcknowledgedBy, tcol{&a.AcknowledgedAt}, &a.ClearedBy, &a.Comment, jcol{&a.Context})
	if err != nil {
		return 0, nil, err
	}
	a.Severity, a.State, a.Context = server.Severity(sev), server.AlarmState(state), nilIfEmpty(a.Context)
	return seq, &a, nil
}

// ReportAlarms implements server.AlarmStore. Reports apply in order, so a
// raise and a clear of one code in one message leave it cleared. A clear
// for a code with no open alarm is kept as an already-cleared alarm, so the
// history shows it happened.
func (s *Store) ReportAlarms(ctx context.Context, ref server.MessageRef, alarms []server.AlarmReport, now time.Time) (int, error) {
	const method = "ReportAlarms"
	for _, a := range alarms {
		if a.Code == "" {
			return 0, fail(method, server.CodeMalformed, "alarm code is required")
		}
		if a.Severity.Rank() == 0 {
			return 0, fail(method, server.CodeMalformed, "unknown alarm severity %q", a.Severity)
		}
	}
	return once(ctx, s, method, ref, now, func(tx *sql.Tx) (int, error) {
		if err := s.requireDevice(ctx, tx, method, ref.DeviceID); err != nil {
			return 0, err
		}
		for _, a := range alarms {
			raised := a.RaisedAt
			if raised.IsZero() {
				raised = now
			}
			state, clearedBy := server.AlarmActive, ""
			if !a.ClearedAt.IsZero() {
				res, err := s.exec(ctx, tx, `UPDATE alarms SET state = 'cleared', cleared_at = ?, cleared_by = 'device'
					WHERE device_id = ? AND code = ? AND state <> 'cleared'`, s.t(a.ClearedAt), ref.DeviceID, a.Code)
				if err != nil {
					return 0, err
				}
				if n, err := res.RowsAffected(); err != nil {
					return 0, err
				} else if n > 0 {
					continue
				}
				state, clearedBy = server.AlarmCleared, "device"
			}
			// The partial unique index alarms_open is the de-duplication:
			// a second report of an open code hits it and does nothing.
			_, err := s.exec(ctx, tx, `INSERT INTO alarms (id, device_id, code, severity, severity_rank, text, state,
				raised_at, cleared_at, cleared_by, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (device_id, code) WHERE state <> 'cleared' DO NOTHING`,
				uuid.NewString(), ref.DeviceID, a.Code, string(a.Severity), a.Severity.Rank(), a.Text, string(state),
				s.t(raised), s.t(a.ClearedAt), clearedBy, js(a.Context))
			if err != nil {
				return 0, err
			}
		}
		return len(alarms), nil
	})
}

// GetAlarm implements server.AlarmStore.
func (s *Store) GetAlarm(ctx context.Context, id string) (*server.Alarm, error) {
	return s.getAlarm(ctx, s.r, "GetAlarm", id, "")
}

func (s *Store) getAlarm(ctx context.Context, q querier, method, id, lock string) (*server.Alarm, error) {
	_, a, err := scanAlarm(s.queryRow(ctx, q, "SELECT "+alarmCols+" FROM alarms WHERE id = ?"+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail(method, server.CodeNotFound, "alarm %s not found", id)
	}
	if err != nil {
		return nil, unavailable(method, err)
	}
	return a, nil
}

// ListAlarms implements server.AlarmStore, newest raised first.
func (s *Store) ListAlarms(ctx context.Context, f server.AlarmFilter, p server.Page) ([]server.Alarm, string, error) {
	const method = "ListAlarms"
	limit, cur, err := page(method, p)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.eq("device_id", f.DeviceID)
	w.eq("state", string(f.State))
	if f.MinSeverity != "" {
		if f.MinSeverity.Rank() == 0 {
			return nil, "", fail(method, server.CodeMalformed, "unknown alarm severity %q", f.MinSeverity)
		}
		w.add("severity_rank >= ?", f.MinSeverity.Rank())
	}
	if !f.Since.IsZero() {
		w.add("raised_at >= ?", s.t(f.Since))
	}
	if cur != nil {
		w.add("(raised_at, seq) < (?, ?)", s.t(time.UnixMicro(cur.T)), cur.S)
	}
	out, seqs, err := querySeq(ctx, s, s.r, scanAlarm, "SELECT "+alarmCols+" FROM alarms"+w.String()+" ORDER BY raised_at DESC, seq DESC LIMIT ?",
		append(w.args, limit+1)...)
	if err != nil {
		return nil, "", unavailable(method, err)
	}
	out, next := cut(out, limit, func(i int) cursor { return cursor{T: micros(out[i].RaisedAt), S: seqs[i]} })
	return out, next, nil
}

// AcknowledgeAlarm implements server.AlarmStore.
func (s *Store) AcknowledgeAlarm(ctx context.Context, id, user, comment string, now time.Time) (*server.Alarm, error) {
	return s.moveAlarm(ctx, "AcknowledgeAlarm", id, []server.AlarmState{server.AlarmActive},
		"state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, comment = ?", user, s.t(now), comment)
}

// ClearAlarm implements server.AlarmStore.
func (s *Store) ClearAlarm(ctx context.Context, id, user, comment string, now time.Time) (*server.Alarm, error) {
	return s.moveAlarm(ctx, "ClearAlarm", id, []server.AlarmState{server.AlarmActive, server.AlarmAcknowledged},
		"state = 'cleared', cleared_by = ?, cleared_at = ?, comment = ?", user, s.t(now), comment)
}

// moveAlarm applies an operator's state change when the alarm is in one of
// the states it may leave.
func (s *Store) moveAlarm(ctx context.Context, method, id string, from []server.AlarmState, set string, args ...any) (*server.Alarm, error) {
	var out *server.Alarm
	err := s.inTx(ctx, method, func(tx *sql.Tx) error {
		a, err := s.getAlarm(ctx, tx, method, id, s.d.forUpdate)
		if err != nil {
			return err
		}
		ok := false
		for _, st := range from {
			ok = ok || a.State == st
		}
		if !ok {
			return fail(method, server.CodeConflict, "alarm %s is %s", id, a.State)
		}
		if _, err := s.exec(ctx, tx, "UPDATE alarms SET "+set+" WHERE id = ?", append(args, id)...); err != nil {
			return err
		}
		out, err = s.getAlarm(ctx, tx, method, id, "")
		return err
	})
	return out, err
}
