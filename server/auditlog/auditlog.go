package auditlog

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/batch"
)

// Log implements server.Auditor.
type Log struct {
	c   *batch.Committer[server.AuditEntry, server.AuditRecord]
	now func() time.Time
}

var _ server.Auditor = (*Log)(nil)

// New starts a Log over store. now may be nil (time.Now).
func New(store server.AuditStore, cfg batch.Config, now func() time.Time) (*Log, error) {
	if store == nil {
		return nil, errors.New("auditlog.New: store is required")
	}
	if now == nil {
		now = time.Now
	}
	c, err := batch.New(cfg, store.AppendAudit)
	if err != nil {
		return nil, fmt.Errorf("auditlog.New: %w", err)
	}
	return &Log{c: c, now: now}, nil
}

// MaxDetail bounds an entry's detail text; longer text is cut.
const MaxDetail = 1024

// Record appends e and returns once it is durable.
func (l *Log) Record(ctx context.Context, e server.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	if len(e.Detail) > MaxDetail {
		// Cut at a character boundary: PostgreSQL refuses invalid UTF-8,
		// and records are served in XML.
		cut := MaxDetail
		for cut > 0 && !utf8.RuneStart(e.Detail[cut]) {
			cut--
		}
		e.Detail = e.Detail[:cut]
	}
	if _, err := l.c.Do(ctx, e); err != nil {
		if server.CodeOf(err) == server.CodeInternal {
			err = server.Wrap(server.CodeUnavailable, "audit record could not be stored", err)
		}
		return fmt.Errorf("auditlog.Record: %w", err)
	}
	return nil
}

// Close appends what is pending and stops.
func (l *Log) Close() { l.c.Close() }

// Report is the outcome of a chain check.
type Report struct {
	Checked int64              // records whose hash and link held
	Break   *server.ChainBreak // nil when the whole chain holds
}

// Verify walks the stored chain from the first record and stops at the
// first broken one.
func Verify(ctx context.Context, store server.AuditStore) (Report, error) {
	var v server.ChainVerifier
	var brk *server.ChainBreak
	stop := errors.New("stop")
	err := store.ScanAudit(ctx, 1, func(r server.AuditRecord) error {
		// The chain starts at 1: without this, deleting its head would go
		// unnoticed, since the verifier checks links only between records.
		if v.Checked == 0 && r.Sequence != 1 {
			brk = &server.ChainBreak{Sequence: 1, Reason: "record is missing"}
			return stop
		}
		if brk = v.Next(r); brk != nil {
			return stop
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return Report{}, fmt.Errorf("auditlog.Verify: %w", err)
	}
	return Report{Checked: v.Checked, Break: brk}, nil
}
