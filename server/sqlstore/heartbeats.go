package sqlstore

import (
	"context"
	"database/sql"
	"sort"
	"strings"
	"time"

	"github.com/rmsproject/rms/server"
)

// Rows per multi-row statement: far below both engines' parameter limits
// (65535 on PostgreSQL, 32766 on SQLite), large enough that a batch of a
// thousand heartbeats costs a handful of statements.
const rowsPerStatement = 500

// chunks calls fn for consecutive slices of at most n items.
func chunks[T any](items []T, n int, fn func([]T) error) error {
	for len(items) > 0 {
		k := min(n, len(items))
		if err := fn(items[:k]); err != nil {
			return err
		}
		items = items[k:]
	}
	return nil
}

type msgKey struct{ device, message string }

// WriteHeartbeats implements server.HeartbeatStore. The batch costs a
// fixed number of multi-row statements, not one per heartbeat: record the
// message ids (learning which are new), lock and read the devices, append
// history, write each device's merged status once, and look up which of them
// have instructions waiting.
func (s *Store) WriteHeartbeats(ctx context.Context, batch []server.Heartbeat) ([]server.HeartbeatAck, error) {
	const method = "WriteHeartbeats"
	if len(batch) == 0 {
		return nil, nil
	}
	for _, hb := range batch {
		if hb.DeviceID == "" || hb.MessageID == "" {
			return nil, fail(method, server.CodeMalformed, "device id and message id are required")
		}
	}
	now := s.cfg.Now()
	acks := make([]server.HeartbeatAck, len(batch))
	err := s.inTx(ctx, method, func(tx *sql.Tx) error {
		batch, index, err := s.dropReplays(ctx, tx, batch, acks)
		if err != nil {
			return err
		}
		fresh, err := s.recordHeartbeatMessages(ctx, tx, batch, now)
		if err != nil {
			return err
		}
		devices, err := s.lockHeartbeatDevices(ctx, tx, batch)
		if err != nil {
			return err
		}
		var written []server.Heartbeat
		for i, hb := range batch {
			if !fresh[i] {
				acks[index[i]].Duplicate = true
				continue
			}
			if devices[hb.DeviceID] == nil {
				return fail(method, server.CodeUnknownDevice, "unknown device %s", hb.DeviceID)
			}
			written = append(written, hb)
		}
		if err := chunks(written, rowsPerStatement, func(c []server.Heartbeat) error {
			args := make([]any, 0, len(c)*7)
			for _, hb := range c {
				args = append(args, hb.DeviceID, s.t(sentAt(hb)), s.t(received(hb, now)), string(hb.State),
					js(hb.Metrics), js(hb.Properties))
			}
			_, err := s.exec(ctx, tx, "INSERT INTO heartbeats (device_id, sent_at, received_at, state, metrics, properties) VALUES "+
				placeholders(len(c), 6), args...)
			return err
		}); err != nil {
			return err
		}
		if err := s.writeStatus(ctx, tx, devices, written); err != nil {
			return err
		}
		pending, err := s.pendingAmong(ctx, tx, devices, now)
		if err != nil {
			return err
		}
		for i, hb := range batch {
			if d := devices[hb.DeviceID]; d != nil && d.interval > 0 {
				acks[index[i]].IntervalSeconds = d.interval
			}
			acks[index[i]].InstructionsPending = pending[hb.DeviceID]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return acks, nil
}

// dropReplays records the replay keys the batch carries, in the same
// transaction as the heartbeats, and returns the heartbeats that are not
// replays with each one's index in the original batch; replays are acked
// with Replayed. Folding the check into the write saves the hot path a
// transaction per batch.
func (s *Store) dropReplays(ctx context.Context, tx *sql.Tx, batch []server.Heartbeat, acks []server.HeartbeatAck) ([]server.Heartbeat, []int, error) {
	var records []server.ReplayRecord
	var carriers []int
	for i, hb := range batch {
		if hb.Replay.Key != "" {
			records = append(records, hb.Replay)
			carriers = append(carriers, i)
		}
	}
	replayed := make([]bool, len(batch))
	if len(records) > 0 {
		seen, err := s.recordReplays(ctx, tx, records)
		if err != nil {
			return nil, nil, err
		}
		for j, i := range carriers {
			replayed[i] = seen[j]
		}
	}
	kept := make([]server.Heartbeat, 0, len(batch))
	index := make([]int, 0, len(batch))
	for i, hb := range batch {
		if replayed[i] {
			acks[i].Replayed = true
			continue
		}
		kept = append(kept, hb)
		index = append(index, i)
	}
	return kept, index, nil
}

func sentAt(hb server.Heartbeat) time.Time {
	if !hb.SentAt.IsZero() {
		return hb.SentAt
	}
	return hb.ReceivedAt
}

func received(hb server.Heartbeat, now time.Time) time.Time {
	if !hb.ReceivedAt.IsZero() {
		return hb.ReceivedAt
	}
	return now
}

// recordHeartbeatMessages inserts the batch's message ids and reports, per
// heartbeat, whether it is new. Keys go in sorted so concurrent batches lock
// them in one order and cannot deadlock; a key twice in one batch counts
// once, for its first heartbeat.
func (s *Store) recordHeartbeatMessages(ctx context.Context, tx *sql.Tx, batch []server.Heartbeat, now time.Time) ([]bool, error) {
	first := map[msgKey]int{}
	var keys []msgKey
	for i, hb := range batch {
		k := msgKey{hb.DeviceID, hb.MessageID}
		if _, ok := first[k]; !ok {
			first[k] = i
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].device != keys[j].device {
			return keys[i].device < keys[j].device
		}
		return keys[i].message < keys[j].message
	})
	fresh := make([]bool, len(batch))
	err := chunks(keys, rowsPerStatement, func(c []msgKey) error {
		args := make([]any, 0, len(c)*4)
		for _, k := range c {
			args = append(args, k.device, k.message, "WriteHeartbeats", s.t(now))
		}
		rows, err := s.query(ctx, tx, "INSERT INTO messages (device_id, message_id, op, created_at) VALUES "+
			placeholders(len(c), 4)+" ON CONFLICT (device_id, message_id) DO NOTHING RETURNING device_id, message_id", args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k msgKey
			if err := rows.Scan(&k.device, &k.message); err != nil {
				return err
			}
			fresh[first[k]] = true
		}
		return rows.Err()
	})
	return fresh, err
}

// hbDevice is what a batch needs of a device.
type hbDevice struct {
	interval   int
	state      string
	lastSeen   time.Time
	metrics    []server.Metric
	properties []server.Attr
	dirty      bool
}

// lockHeartbeatDevices reads the batch's devices, locking them (in id order,
// against deadlocks) so that concurrent batches merge properties one after
// the other instead of overwriting each other.
func (s *Store) lockHeartbeatDevices(ctx context.Context, tx *sql.Tx, batch []server.Heartbeat) (map[string]*hbDevice, error) {
	seen := map[string]bool{}
	var ids []string
	for _, hb := range batch {
		if !seen[hb.DeviceID] {
			seen[hb.DeviceID] = true
			ids = append(ids, hb.DeviceID)
		}
	}
	sort.Strings(ids)
	devices := make(map[string]*hbDevice, len(ids))
	err := chunks(ids, rowsPerStatement, func(c []string) error {
		args := make([]any, len(c))
		for i, id := range c {
			args[i] = id
		}
		rows, err := s.query(ctx, tx, "SELECT id, heartbeat_interval, state, last_seen, metrics, properties FROM devices WHERE id IN ("+
			strings.Repeat("?,", len(c)-1)+"?) ORDER BY id"+s.d.forUpdate, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			d := &hbDevice{}
			if err := rows.Scan(&id, &d.interval, &d.state, tcol{&d.lastSeen}, jcol{&d.metrics}, jcol{&d.properties}); err != nil {
				return err
			}
			devices[id] = d
		}
		return rows.Err()
	})
	return devices, err
}

// writeStatus folds the new heartbeats into their devices, oldest first:
// every heartbeat's properties merge in, while state, metrics and last seen
// come from the newest, and never go back in time (an agent's outbox may
// deliver an old heartbeat late). Each device is then written once, by a
// multi-row upsert whose insert arm never fires: the rows exist and are
// locked.
func (s *Store) writeStatus(ctx context.Context, tx *sql.Tx, devices map[string]*hbDevice, written []server.Heartbeat) error {
	sorted := append([]server.Heartbeat(nil), written...)
	sort.SliceStable(sorted, func(i, j int) bool { return sentAt(sorted[i]).Before(sentAt(sorted[j])) })
	var ids []string
	for _, hb := range sorted {
		d := devices[hb.DeviceID]
		if !d.dirty {
			d.dirty = true
			ids = append(ids, hb.DeviceID)
		}
		d.properties = mergeAttrs(d.properties, hb.Properties)
		if extra := len(d.properties) - MaxDeviceProperties; extra > 0 {
			// The longest-standing names go first: a device that invents
			// names must not grow its row (rewritten on every batch) forever.
			d.properties = d.properties[extra:]
		}
		if t := sentAt(hb); !t.Before(d.lastSeen) {
			d.lastSeen, d.state, d.metrics = t, string(hb.State), keepUnits(d.metrics, hb.Metrics)
		}
	}
	sort.Strings(ids)
	return chunks(ids, rowsPerStatement, func(c []string) error {
		args := make([]any, 0, len(c)*5)
		for _, id := range c {
			d := devices[id]
			args = append(args, id, d.state, s.t(d.lastSeen), js(d.metrics), js(d.properties))
		}
		_, err := s.exec(ctx, tx, "INSERT INTO devices (id, state, last_seen, metrics, properties) VALUES "+
			placeholders(len(c), 5)+` ON CONFLICT (id) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen,
			metrics = excluded.metrics, properties = excluded.properties`, args...)
		return err
	})
}

// MaxDeviceProperties bounds the properties kept for one device.
const MaxDeviceProperties = 512

// keepUnits gives each new metric without a unit the unit it had before:
// agents send a unit only when it changes, and the device's latest metrics
// should still say what they measure.
func keepUnits(before, now []server.Metric) []server.Metric {
	out := make([]server.Metric, len(now))
	copy(out, now)
	for i := range out {
		if out[i].Unit != "" {
			continue
		}
		for _, b := range before {
			if b.Name == out[i].Name {
				out[i].Unit = b.Unit
				break
			}
		}
	}
	return out
}

// mergeAttrs sets each changed attribute, keeping the others and their order.
func mergeAttrs(have, changed []server.Attr) []server.Attr {
	for _, c := range changed {
		found := false
		for i := range have {
			if have[i].Name == c.Name {
				have[i].Value, found = c.Value, true
				break
			}
		}
		if !found {
			have = append(have, c)
		}
	}
	return have
}

// pendingAmong reports which of the devices have queued, unexpired
// instructions.
func (s *Store) pendingAmong(ctx context.Context, tx *sql.Tx, devices map[string]*hbDevice, now time.Time) (map[string]bool, error) {
	ids := make([]string, 0, len(devices))
	for id := range devices {
		ids = append(ids, id)
	}
	pending := map[string]bool{}
	err := chunks(ids, rowsPerStatement, func(c []string) error {
		args := make([]any, 0, len(c)+1)
		for _, id := range c {
			args = append(args, id)
		}
		args = append(args, s.t(now))
		rows, err := s.query(ctx, tx, "SELECT DISTINCT device_id FROM instructions WHERE device_id IN ("+
			strings.Repeat("?,", len(c)-1)+"?) AND status = 'queued' AND expires_at > ?", args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			pending[id] = true
		}
		return rows.Err()
	})
	return pending, err
}
