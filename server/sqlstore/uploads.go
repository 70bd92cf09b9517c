package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/rmsproject/rms/server"
)

const uploadCols = `seq, id, device_id, name, kind, state, size, received, sha256, compression, instruction_id,
	created_at, committed_at`

func scanUpload(r scanner) (int64, *server.Upload, error) {
	var u server.Upload
	var seq int64
	var kind, state, comp string
	err := r.Scan(&seq, &u.ID, &u.DeviceID, &u.Name, &kind, &state, &u.Size, &u.Received, &u.SHA256, &comp,
		&u.InstructionID, tcol{&u.CreatedAt}, tcol{&u.CommittedAt})
	if err != nil {
		return 0, nil, err
	}
	u.Kind, u.State, u.Compression = server.UploadKind(kind), server.UploadState(state), server.Compression(comp)
	return seq, &u, nil
}

func (s *Store) getUpload(ctx context.Context, q querier, method, id, lock string) (*server.Upload, error) {
	_, u, err := scanUpload(s.queryRow(ctx, q, "SELECT "+uploadCols+" FROM uploads WHERE id = ?"+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail(method, server.CodeNotFound, "upload %s not found", id)
	}
	if err != nil {
		return nil, unavailable(method, err)
	}
	return u, nil
}

// BeginUpload implements server.UploadStore. An upload named by an
// instruction of the same device is recorded on that instruction.
func (s *Store) BeginUpload(ctx context.Context, ref server.MessageRef, u server.NewUpload, now time.Time) (*server.Upload, error) {
	const method = "BeginUpload"
	switch {
	case u.Name == "":
		return nil, fail(method, server.CodeMalformed, "upload name is required")
	case u.Kind != server.UploadLog && u.Kind != server.UploadAudit && u.Kind != server.UploadDiagnostic:
		return nil, fail(method, server.CodeMalformed, "unknown upload kind %q", u.Kind)
	case u.Size < 0:
		return nil, fail(method, server.CodeMalformed, "upload size must not be negative")
	case u.SHA256 == "":
		return nil, fail(method, server.CodeMalformed, "upload SHA-256 is required")
	}
	if u.Compression == "" {
		u.Compression = server.CompressionNone
	}
	if u.Compression != server.CompressionNone && u.Compression != server.CompressionGzip {
		return nil, fail(method, server.CodeMalformed, "unknown compression %q", u.Compression)
	}
	return once(ctx, s, method, ref, now, func(tx *sql.Tx) (*server.Upload, error) {
		if err := s.requireDevice(ctx, tx, method, ref.DeviceID); err != nil {
			return nil, err
		}
		_, have, err := scanUpload(s.queryRow(ctx, tx, "SELECT "+uploadCols+` FROM uploads
			WHERE device_id = ? AND state = 'receiving' AND name = ? AND size = ? AND sha256 = ?
			ORDER BY seq DESC LIMIT 1`, ref.DeviceID, u.Name, u.Size, u.SHA256))
		if err == nil {
			return have, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		id := uuid.NewString()
		if _, err := s.exec(ctx, tx, `INSERT INTO uploads (id, device_id, name, kind, state, size, sha256, compression,
			instruction_id, created_at) VALUES (?, ?, ?, ?, 'receiving', ?, ?, ?, ?, ?)`,
			id, ref.DeviceID, u.Name, string(u.Kind), u.Size, u.SHA256, string(u.Compression), u.InstructionID, s.t(now)); err != nil {
			return nil, err
		}
		if u.InstructionID != "" {
			if _, err := s.exec(ctx, tx, "UPDATE instructions SET upload_id = ? WHERE id = ? AND device_id = ?",
				id, u.InstructionID, ref.DeviceID); err != nil {
				return nil, err
			}
		}
		return s.getUpload(ctx, tx, method, id, "")
	})
}

// GetUpload implements server.UploadStore.
func (s *Store) GetUpload(ctx context.Context, id string) (*server.Upload, error) {
	return s.getUpload(ctx, s.r, "GetUpload", id, "")
}

// AdvanceUpload implements server.UploadStore. The compare-and-set is one
// statement, so two writers of the same chunk cannot both succeed.
func (s *Store) AdvanceUpload(ctx context.Context, id string, from, to int64) error {
	const method = "AdvanceUpload"
	if from < 0 || to < from {
		return fail(method, server.CodeMalformed, "invalid upload range %d..%d", from, to)
	}
	res, err := s.exec(ctx, s.w, `UPDATE uploads SET received = ? WHERE id = ? AND state = 'receiving' AND received = ? AND size >= ?`,
		to, id, from, to)
	if err != nil {
		return unavailable(method, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable(method, err)
	} else if n == 1 {
		return nil
	}
	u, err := s.getUpload(ctx, s.w, method, id, "")
	if err != nil {
		return err
	}
	switch {
	case u.State != server.UploadReceiving:
		return fail(method, server.CodeConflict, "upload %s is %s", id, u.State)
	case to > u.Size:
		return fail(method, server.CodeTooLarge, "upload %s would pass its size", id)
	default:
		return fail(method, server.CodeConflict, "upload %s has %d bytes, not %d", id, u.Received, from)
	}
}

// FinishUpload implements server.UploadStore. Committing needs every byte;
// finishing again in the same state returns the upload unchanged.
func (s *Store) FinishUpload(ctx context.Context, id string, state server.UploadState, now time.Time) (*server.Upload, error) {
	const method = "FinishUpload"
	if state != server.UploadCommitted && state != server.UploadFailed {
		return nil, fail(method, server.CodeMalformed, "an upload finishes committed or failed, not %q", state)
	}
	var out *server.Upload
	err := s.inTx(ctx, method, func(tx *sql.Tx) error {
		u, err := s.getUpload(ctx, tx, method, id, s.d.forUpdate)
		if err != nil {
			return err
		}
		switch {
		case u.State == state:
			out = u
			return nil
		case u.State != server.UploadReceiving:
			return fail(method, server.CodeConflict, "upload %s is already %s", id, u.State)
		case state == server.UploadCommitted && u.Received != u.Size:
			return fail(method, server.CodeConflict, "upload %s has %d of %d bytes", id, u.Received, u.Size)
		}
		committed := time.Time{}
		if state == server.UploadCommitted {
			committed = now
		}
		if _, err := s.exec(ctx, tx, "UPDATE uploads SET state = ?, committed_at = ? WHERE id = ?",
			string(state), s.t(committed), id); err != nil {
			return err
		}
		out, err = s.getUpload(ctx, tx, method, id, "")
		return err
	})
	return out, err
}

// ListUploads implements server.UploadStore, newest first.
func (s *Store) ListUploads(ctx context.Context, f server.UploadFilter, p server.Page) ([]server.Upload, string, error) {
	const method = "ListUploads"
	limit, cur, err := page(method, p)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.eq("device_id", f.DeviceID)
	w.eq("kind", string(f.Kind))
	w.eq("state", string(f.State))
	if cur != nil {
		w.add("(created_at, seq) < (?, ?)", s.t(time.UnixMicro(cur.T)), cur.S)
	}
	out, seqs, err := querySeq(ctx, s, s.r, scanUpload, "SELECT "+uploadCols+" FROM uploads"+w.String()+" ORDER BY created_at DESC, seq DESC LIMIT ?",
		append(w.args, limit+1)...)
	if err != nil {
		return nil, "", unavailable(method, err)
	}
	out, next := cut(out, limit, func(i int) cursor { return cursor{T: micros(out[i].CreatedAt), S: seqs[i]} })
	return out, next, nil
}
