package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/rmsproject/rms/server"
)

// deviceCols is read by scanDevice; open_alarms is counted on the fly, which
// the alarms_device index makes cheap and keeps it from drifting.
const deviceCols = `d.id, d.display_name, d.customer, d.site, d.model, d.gateway_id, d.agent_version,
	d.cert_subject, d.cert_serial, d.cert_expires_at, d.state, d.last_seen, d.heartbeat_interval,
	d.metrics, d.properties, d.created_at,
	(SELECT COUNT(*) FROM alarms a WHERE a.device_id = d.id AND a.state <> 'cleared')`

type scanner interface{ Scan(dest ...any) error }

func scanDevice(r scanner) (*server.Device, error) {
	var d server.Device
	var state string
	err := r.Scan(&d.ID, &d.DisplayName, &d.Customer, &d.Site, &d.Model, &d.GatewayID, &d.AgentVersion,
		&d.CertSubject, &d.CertSerial, tcol{&d.CertExpiresAt}, &state, tcol{&d.LastSeen}, &d.HeartbeatInterval,
		jcol{&d.Metrics}, jcol{&d.Properties}, tcol{&d.CreatedAt}, &d.OpenAlarms)
	if err != nil {
		return nil, err
	}
	d.State = server.HealthState(state)
	d.Metrics, d.Properties = nilIfEmpty(d.Metrics), nilIfEmpty(d.Properties)
	return &d, nil
}

func (s *Store) getDevice(ctx context.Context, q querier, id string) (*server.Device, error) {
	return scanDevice(s.queryRow(ctx, q, "SELECT "+deviceCols+" FROM devices d WHERE d.id = ?", id))
}

// AdmitDevice implements server.DeviceStore. It runs on every device
// request, so the usual case (known device, same certificate) is one read
// and no transaction.
func (s *Store) AdmitDevice(ctx context.Context, id server.Identity, register bool, now time.Time) (*server.Device, error) {
	const method = "AdmitDevice"
	if id.DeviceID == "" {
		return nil, fail(method, server.CodeMalformed, "device id is required")
	}
	serial := strings.ToLower(id.CertSerial)
	if serial != "" {
		var revoked int
		err := s.queryRow(ctx, s.r, "SELECT COUNT(*) FROM revoked_certs WHERE serial = ?", serial).Scan(&revoked)
		if err != nil {
			return nil, unavailable(method, err)
		}
		if revoked > 0 {
			return nil, fail(method, server.CodeForbidden, "the device certificate is revoked")
		}
	}
	d, err := s.getDevice(ctx, s.r, id.DeviceID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if !register {
			return nil, fail(method, server.CodeUnknownDevice, "unknown device %s", id.DeviceID)
		}
	case err != nil:
		return nil, unavailable(method, err)
	case d.CertSubject == id.CertSubject && d.CertSerial == serial && sameTime(d.CertExpiresAt, id.CertExpiresAt):
		return d, nil
	}
	err = s.inTx(ctx, method, func(tx *sql.Tx) error {
		// DO NOTHING covers a replica registering the same device at the
		// same moment; the update then records the certificate either way.
		if register {
			if _, err := s.exec(ctx, tx, `INSERT INTO devices (id, cert_subject, cert_serial, cert_expires_at, created_at)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				id.DeviceID, id.CertSubject, serial, s.t(id.CertExpiresAt), s.t(now)); err != nil {
				return err
			}
		}
		if _, err := s.exec(ctx, tx, "UPDATE devices SET cert_subject = ?, cert_serial = ?, cert_expires_at = ? WHERE id = ?",
			id.CertSubject, serial, s.t(id.CertExpiresAt), id.DeviceID); err != nil {
			return err
		}
		d, err = s.getDevice(ctx, tx, id.DeviceID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// RegisterDevice implements server.DeviceStore.
func (s *Store) RegisterDevice(ctx context.Context, d server.Device, now time.Time) error {
	const method = "RegisterDevice"
	if d.ID == "" {
		return fail(method, server.CodeMalformed, "device id is required")
	}
	if d.HeartbeatInterval < 0 {
		return fail(method, server.CodeMalformed, "heartbeat interval must not be negative")
	}
	res, err := s.exec(ctx, s.w, `INSERT INTO devices (id, display_name, customer, site, model, gateway_id, agent_version,
		cert_subject, cert_serial, cert_expires_at, heartbeat_interval, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		d.ID, d.DisplayName, d.Customer, d.Site, d.Model, d.GatewayID, d.AgentVersion,
		d.CertSubject, strings.ToLower(d.CertSerial), s.t(d.CertExpiresAt), d.HeartbeatInterval, s.t(now))
	if err != nil {
		return unavailable(method, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable(method, err)
	} else if n == 0 {
		return fail(method, server.CodeConflict, "device %s already exists", d.ID)
	}
	return nil
}

// RevokeCertificate implements server.DeviceStore.
func (s *Store) RevokeCertificate(ctx context.Context, serial, reason string, now time.Time) error {
	const method = "RevokeCertificate"
	serial = strings.ToLower(strings.TrimSpace(serial))
	if serial == "" {
		return fail(method, server.CodeMalformed, "certificate serial is required")
	}
	err := s.inTx(ctx, method, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO revoked_certs (serial, reason, revoked_at) VALUES (?, ?, ?)
			ON CONFLICT (serial) DO NOTHING`, serial, reason, s.t(now)); err != nil {
			return err
		}
		if s.d.notify != nil {
			return s.d.notify(ctx, tx, revokeChannel, serial)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.revoked.notify(serial)
	return nil
}

// WatchRevocations implements server.DeviceStore: fn hears every serial
// revoked through any Store on the database (through LISTEN/NOTIFY on
// PostgreSQL), and "" when notifications may have been missed (a listener
// reconnect), which means "forget everything cached".
func (s *Store) WatchRevocations(fn func(serial string)) (stop func()) {
	return s.revoked.add(fn)
}

// revocations fans revoked serials out to in-process callbacks.
type revocations struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(string)
}

func (r *revocations) add(fn func(string)) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fns == nil {
		r.fns = map[int]func(string){}
	}
	id := r.next
	r.next++
	r.fns[id] = fn
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.fns, id)
	}
}

func (r *revocations) notify(serial string) {
	r.mu.Lock()
	fns := make([]func(string), 0, len(r.fns))
	for _, fn := range r.fns {
		fns = append(fns, fn)
	}
	r.mu.Unlock()
	for _, fn := range fns {
		fn(serial)
	}
}

// GetDevice implements server.DeviceStore.
func (s *Store) GetDevice(ctx context.Context, id string) (*server.Device, error) {
	d, err := s.getDevice(ctx, s.r, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail("GetDevice", server.CodeNotFound, "device %s not found", id)
	}
	if err != nil {
		return nil, unavailable("GetDevice", err)
	}
	return d, nil
}

// where collects AND-ed conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// eq adds "column = value" when value is set: an empty filter field
// matches everything.
func (w *where) eq(column, value string) {
	if value != "" {
		w.add(column+" = ?", value)
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// likeEscaper makes a search string match literally inside LIKE.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListDevices implements server.DeviceStore, ordered by id. Search is
// case-insensitive on both engines.
func (s *Store) ListDevices(ctx context.Context, f server.DeviceFilter, p server.Page) ([]server.Device, string, error) {
	const method = "ListDevices"
	limit, cur, err := page(method, p)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.eq("d.customer", f.Customer)
	w.eq("d.site", f.Site)
	if f.State != "" {
		// A registered device that never reported has no state yet; it is
		// shown as offline, so it is listed as offline too.
		w.add("COALESCE(NULLIF(d.state, ''), 'offline') = ?", string(f.State))
	}
	if f.Search != "" {
		pat := "%" + likeEscaper.Replace(strings.ToLower(f.Search)) + "%"
		w.add(`(LOWER(d.id) LIKE ? ESCAPE '\' OR LOWER(d.display_name) LIKE ? ESCAPE '\')`, pat, pat)
	}
	if cur != nil {
		w.add("d.id > ?", cur.K)
	}
	rows, err := s.query(ctx, s.r, "SELECT "+deviceCols+" FROM devices d"+w.String()+" ORDER BY d.id LIMIT ?",
		append(w.args, limit+1)...)
	if err != nil {
		return nil, "", unavailable(method, err)
	}
	defer rows.Close()
	var out []server.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, "", unavailable(method, err)
		}
		out = append(out, *d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", unavailable(method, err)
	}
	out, next := cut(out, limit, func(i int) cursor { return cursor{K: out[i].ID} })
	return out, next, nil
}

// cut trims the one extra row a listing asked for and turns it into the
// next page's token.
// key gets the index of the last row kept.
func cut[T any](rows []T, limit int, key func(last int) cursor) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	return rows[:limit], key(limit - 1).token()
}

// DeviceHistory implements server.DeviceStore.
func (s *Store) DeviceHistory(ctx context.Context, f server.HistoryFilter, p server.Page) ([]server.HistoryEntry, string, error) {
	const method = "DeviceHistory"
	if f.DeviceID == "" {
		return nil, "", fail(method, server.CodeMalformed, "device id is required")
	}
	limit, cur, err := page(method, p)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.add("device_id = ?", f.DeviceID)
	if !f.From.IsZero() {
		w.add("sent_at >= ?", s.t(f.From))
	}
	if !f.To.IsZero() {
		w.add("sent_at < ?", s.t(f.To))
	}
	if cur != nil {
		w.add("(sent_at, seq) > (?, ?)", s.t(time.UnixMicro(cur.T)), cur.S)
	}
	rows, err := s.query(ctx, s.r, "SELECT seq, sent_at, state, metrics, properties FROM heartbeats"+w.String()+
		" ORDER BY sent_at, seq LIMIT ?", append(w.args, limit+1)...)
	if err != nil {
		return nil, "", unavailable(method, err)
	}
	defer rows.Close()
	type row struct {
		seq int64
		e   server.HistoryEntry
	}
	var out []row
	for rows.Next() {
		var r row
		var state string
		if err := rows.Scan(&r.seq, tcol{&r.e.Time}, &state, jcol{&r.e.Metrics}, jcol{&r.e.Properties}); err != nil {
			return nil, "", unavailable(method, err)
		}
		r.e.State = server.HealthState(state)
		r.e.Metrics, r.e.Properties = nilIfEmpty(r.e.Metrics), nilIfEmpty(r.e.Properties)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", unavailable(method, err)
	}
	if len(out) == 0 && cur == nil {
		if _, err := s.GetDevice(ctx, f.DeviceID); err != nil {
			return nil, "", err
		}
	}
	out, next := cut(out, limit, func(i int) cursor { return cursor{T: micros(out[i].e.Time), S: out[i].seq} })
	entries := make([]server.HistoryEntry, len(out))
	for i, r := range out {
		entries[i] = r.e
	}
	return entries, next, nil
}

// requireDevice turns a missing device into CodeUnknownDevice before a
// foreign key would turn it into a driver error.
func (s *Store) requireDevice(ctx context.Context, tx *sql.Tx, method, id string) error {
	var one int
	err := s.queryRow(ctx, tx, "SELECT 1 FROM devices WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fail(method, server.CodeUnknownDevice, "unknown device %s", id)
	}
	return err
}
