package outbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"

	"github.com/rmsproject/rms/agent"
)

// DefaultMaxBytes is the default bound on what the outbox holds.
const DefaultMaxBytes int64 = 64 << 20

// DefaultLockTimeout is how long Open waits for another process holding
// the file; long enough for a restarting agent's predecessor to exit,
// short enough that a second agent on the same state directory fails
// visibly instead of hanging.
const DefaultLockTimeout = 5 * time.Second

// metadataOverhead counts the fixed-size parts of a message (Seq and
// Created) in its Size, so that a flood of empty payloads is bounded too.
const metadataOverhead = 16

// Errors callers tell apart.
var (
	// ErrFull means the outbox holds MaxBytes of messages that may not be
	// dropped; nothing was stored and nothing was dropped.
	ErrFull = errors.New("outbox is full of messages that may not be dropped")
	// ErrTooLarge means the message alone is larger than MaxBytes.
	ErrTooLarge = errors.New("message is larger than the whole outbox")
	// ErrInvalid means the message lacks a device or kind.
	ErrInvalid = errors.New("invalid message")
	// ErrClosed means the outbox was closed.
	ErrClosed = errors.New("outbox is closed")
	// ErrCorrupt means a stored record could not be decoded.
	ErrCorrupt = errors.New("outbox record is corrupt")
)

var (
	bucketMsgs = []byte("msgs")
	bucketDev  = []byte("dev")
	bucketHB   = []byte("hb")
	bucketMeta = []byte("meta")
	keyCount   = []byte("count")
	keyBytes   = []byte("bytes")
)

// Config configures an Outbox.
type Config struct {
	// MaxBytes bounds the sum of Size over held messages; default 64 MiB.
	MaxBytes int64
	// LockTimeout bounds the wait for another process's file lock;
	// default DefaultLockTimeout.
	LockTimeout time.Duration
	// Logger receives the full/accepting-again transitions and coalescing;
	// nil discards.
	Logger *logrus.Entry
	// Now fills a Message's Created when it is zero; default time.Now.
	Now func() time.Time
}

func (c *Config) validate() error {
	if c.MaxBytes < 0 {
		return fmt.Errorf("MaxBytes %d is negative", c.MaxBytes)
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.LockTimeout < 0 {
		return fmt.Errorf("LockTimeout %s is negative", c.LockTimeout)
	}
	if c.LockTimeout == 0 {
		c.LockTimeout = DefaultLockTimeout
	}
	if c.Logger == nil {
		l := logrus.New()
		l.Out = discard{}
		c.Logger = logrus.NewEntry(l)
	}
	c.Logger = c.Logger.WithField("component", "outbox")
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Outbox is a bbolt-backed agent.Outbox. It is safe for concurrent use.
type Outbox struct {
	db  *bolt.DB
	cfg Config
	log *logrus.Entry

	// mu serialises writers (bbolt does too, but the in-memory state below
	// must change only with the transaction that justifies it) and guards
	// that state.
	mu    sync.Mutex
	count int
	bytes int64
	// newestHB is each device's newest held heartbeat, which coalescing
	// spares as long as anything else can go.
	newestHB map[string]uint64
	full     bool
	closed   bool
}

var _ agent.Outbox = (*Outbox)(nil)

// Open opens (creating if needed) the outbox file at path.
func Open(path string, cfg Config) (*Outbox, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("outbox.Open: %w", err)
	}
	// NoSync, NoGrowSync and NoFreelistSync all stay false: see doc.go.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: cfg.LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("outbox.Open: %s: %w", path, err)
	}
	o := &Outbox{db: db, cfg: cfg, log: cfg.Logger.WithField("path", path), newestHB: map[string]uint64{}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMsgs, bucketDev, bucketHB, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		o.count = int(getUint(meta.Get(keyCount)))
		o.bytes = int64(getUint(meta.Get(keyBytes)))
		// The heartbeat index is small (keys and device names), so the
		// per-device newest heartbeat is rebuilt rather than stored.
		return tx.Bucket(bucketHB).ForEach(func(k, v []byte) error {
			o.newestHB[string(v)] = binary.BigEndian.Uint64(k)
			return nil
		})
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("outbox.Open: %s: %w", path, err)
	}
	o.log.WithFields(logrus.Fields{"messages": o.count, "bytes": o.bytes, "max_bytes": cfg.MaxBytes}).Debug("outbox opened")
	return o, nil
}

// Size is what a message counts against MaxBytes: its payload, its
// variable metadata and a fixed overhead for Seq and Created.
func Size(m agent.Message) int64 {
	return int64(len(m.Payload) + len(m.DeviceID) + len(m.Kind) + len(m.Operation) + len(m.MessageID) + metadataOverhead)
}

// MaxBytes reports the configured bound.
func (o *Outbox) MaxBytes() int64 { return o.cfg.MaxBytes }

// Put stores m durably and returns its Seq. See doc.go for what happens
// when the outbox is full.
func (o *Outbox) Put(ctx context.Context, m agent.Message) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("outbox.Put: %w", err)
	}
	if m.DeviceID == "" || m.Kind == "" {
		return 0, fmt.Errorf("outbox.Put: %w: device and kind are required", ErrInvalid)
	}
	size := Size(m)
	if size > o.cfg.MaxBytes {
		return 0, fmt.Errorf("outbox.Put: %w: %d bytes, the outbox holds at most %d", ErrTooLarge, size, o.cfg.MaxBytes)
	}
	if m.Created.IsZero() {
		m.Created = o.cfg.Now()
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, fmt.Errorf("outbox.Put: %w", ErrClosed)
	}

	var (
		seq     uint64
		dropped []dropped
	)
	err := o.db.Update(func(tx *bolt.Tx) error {
		msgs := tx.Bucket(bucketMsgs)
		var err error
		if seq, err = msgs.NextSequence(); err != nil {
			return err
		}
		m.Seq = seq
		total := o.bytes
		if total+size > o.cfg.MaxBytes {
			if dropped, err = o.coalesce(tx, m, total+size-o.cfg.MaxBytes); err != nil {
				return err
			}
			for _, d := range dropped {
				total -= d.size
			}
		}
		if err := insert(tx, m); err != nil {
			return err
		}
		return writeMeta(tx, o.count-len(dropped)+1, total+size)
	})
	if errors.Is(err, ErrFull) {
		if !o.full {
			o.full = true
			o.log.WithFields(logrus.Fields{
				"messages": o.count, "bytes": o.bytes, "max_bytes": o.cfg.MaxBytes,
				"device": m.DeviceID, "kind": m.Kind,
			}).Error("outbox is full of alarms, results and audit events that may not be dropped: refusing new messages until the server acknowledges some")
		}
		return 0, fmt.Errorf("outbox.Put: %w (%d of %d bytes held)", ErrFull, o.bytes, o.cfg.MaxBytes)
	}
	if err != nil {
		return 0, fmt.Errorf("outbox.Put: %w", err)
	}

	// Committed: bring the in-memory state in step.
	for _, d := range dropped {
		o.bytes -= d.size
		o.count--
		if o.newestHB[d.device] == d.seq {
			delete(o.newestHB, d.device)
		}
	}
	o.count++
	o.bytes += size
	if m.Kind == agent.KindHeartbeat {
		o.newestHB[m.DeviceID] = seq
	}
	if len(dropped) > 0 {
		o.log.WithFields(logrus.Fields{"dropped": len(dropped), "oldest_seq": dropped[0].seq, "seq": seq}).Warn("outbox short of space: coalesced heartbeats")
	}
	if o.full {
		o.full = false
		o.log.WithFields(logrus.Fields{"messages": o.count, "bytes": o.bytes}).Warn("outbox accepts messages again")
	}
	return seq, nil
}

type dropped struct {
	seq    uint64
	device string
	size   int64
}

// coalesce deletes heartbeats until need bytes are freed: first those that
// are not their device's newest, then (only if that was not enough) the
// newest ones too, oldest first in both passes. It returns ErrFull, and
// the caller's transaction rolls back, when even dropping every heartbeat
// would not make room.
func (o *Outbox) coalesce(tx *bolt.Tx, incoming agent.Message, need int64) ([]dropped, error) {
	newest := func(device string, seq uint64) bool {
		if incoming.Kind == agent.KindHeartbeat && device == incoming.DeviceID {
			return false // the incoming heartbeat is this device's newest now
		}
		return o.newestHB[device] == seq
	}
	hb := tx.Bucket(bucketHB)
	var (
		victims []dropped
		freed   int64
	)
	// Collect first, delete after: deleting under a live cursor skips keys.
	for pass := 0; pass < 2 && freed < need; pass++ {
		c := hb.Cursor()
		for k, v := c.First(); k != nil && freed < need; k, v = c.Next() {
			seq, device := binary.BigEndian.Uint64(k), string(v)
			if newest(device, seq) != (pass == 1) {
				continue
			}
			m, err := get(tx, seq)
			if err != nil {
				return nil, err
			}
			victims = append(victims, dropped{seq: seq, device: device, size: Size(m)})
			freed += Size(m)
		}
	}
	if freed < need {
		return nil, ErrFull
	}
	for _, d := range victims {
		if err := remove(tx, d.seq, d.device, agent.KindHeartbeat); err != nil {
			return nil, err
		}
	}
	return victims, nil
}

// Pending returns up to n of the device's messages, oldest first.
func (o *Outbox) Pending(deviceID string, n int) ([]agent.Message, error) {
	if n <= 0 {
		return nil, nil
	}
	var out []agent.Message
	err := o.db.View(func(tx *bolt.Tx) error {
		dev := tx.Bucket(bucketDev).Bucket([]byte(deviceID))
		if dev == nil {
			return nil
		}
		c := dev.Cursor()
		for k, _ := c.First(); k != nil && len(out) < n; k, _ = c.Next() {
			m, err := get(tx, binary.BigEndian.Uint64(k))
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	if err != nil {
		return nil, fmt.Errorf("outbox.Pending: %w", err)
	}
	return out, nil
}

// Devices lists the devices that have messages waiting, so a gateway's
// sender knows whom to replay for after a restart.
func (o *Outbox) Devices() ([]string, error) {
	var out []string
	err := o.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDev).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	if err != nil {
		return nil, fmt.Errorf("outbox.Devices: %w", err)
	}
	return out, nil
}

// Ack deletes the message with seq. An unknown seq is not an error: after
// a crash between the server's answer and the delete, the agent resends
// and acknowledges the same message again.
func (o *Outbox) Ack(seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return fmt.Errorf("outbox.Ack: %w", ErrClosed)
	}
	var (
		m       agent.Message
		found   bool
		prevHB  uint64
		hasPrev bool
	)
	err := o.db.Update(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketMsgs).Get(key(seq))
		if raw == nil {
			return nil
		}
		var err error
		if m, err = decode(seq, raw); err != nil {
			return err
		}
		found = true
		if err := remove(tx, seq, m.DeviceID, m.Kind); err != nil {
			return err
		}
		if m.Kind == agent.KindHeartbeat && o.newestHB[m.DeviceID] == seq {
			prevHB, hasPrev = previousHeartbeat(tx, m.DeviceID, seq)
		}
		return writeMeta(tx, o.count-1, o.bytes-Size(m))
	})
	if err != nil {
		return fmt.Errorf("outbox.Ack: %w", err)
	}
	if !found {
		return nil
	}
	o.count--
	o.bytes -= Size(m)
	if m.Kind == agent.KindHeartbeat && o.newestHB[m.DeviceID] == seq {
		if hasPrev {
			o.newestHB[m.DeviceID] = prevHB
		} else {
			delete(o.newestHB, m.DeviceID)
		}
	}
	return nil
}

// previousHeartbeat finds the device's newest heartbeat older than seq.
// Acks normally go oldest first, so this is rare and usually short.
func previousHeartbeat(tx *bolt.Tx, device string, seq uint64) (uint64, bool) {
	dev := tx.Bucket(bucketDev).Bucket([]byte(device))
	if dev == nil {
		return 0, false
	}
	c := dev.Cursor()
	c.Seek(key(seq))
	for k, v := c.Prev(); k != nil; k, v = c.Prev() {
		if agent.Kind(v) == agent.KindHeartbeat {
			return binary.BigEndian.Uint64(k), true
		}
	}
	return 0, false
}

// Stats reports how many messages and bytes (by Size) are held.
func (o *Outbox) Stats() (messages int, bytes int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count, o.bytes
}

// Close closes the file; later calls fail with ErrClosed.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	if err := o.db.Close(); err != nil {
		return fmt.Errorf("outbox.Close: %w", err)
	}
	return nil
}

func insert(tx *bolt.Tx, m agent.Message) error {
	k := key(m.Seq)
	if err := tx.Bucket(bucketMsgs).Put(k, encode(m)); err != nil {
		return err
	}
	dev, err := tx.Bucket(bucketDev).CreateBucketIfNotExists([]byte(m.DeviceID))
	if err != nil {
		return err
	}
	if err := dev.Put(k, []byte(m.Kind)); err != nil {
		return err
	}
	if m.Kind == agent.KindHeartbeat {
		return tx.Bucket(bucketHB).Put(k, []byte(m.DeviceID))
	}
	return nil
}

func remove(tx *bolt.Tx, seq uint64, device string, kind agent.Kind) error {
	k := key(seq)
	if err := tx.Bucket(bucketMsgs).Delete(k); err != nil {
		return err
	}
	devs := tx.Bucket(bucketDev)
	if dev := devs.Bucket([]byte(device)); dev != nil {
		if err := dev.Delete(k); err != nil {
			return err
		}
		// A gateway's devices come and go; do not keep empty buckets.
		if first, _ := dev.Cursor().First(); first == nil {
			if err := devs.DeleteBucket([]byte(device)); err != nil {
				return err
			}
		}
	}
	if kind == agent.KindHeartbeat {
		return tx.Bucket(bucketHB).Delete(k)
	}
	return nil
}

func get(tx *bolt.Tx, seq uint64) (agent.Message, error) {
	raw := tx.Bucket(bucketMsgs).Get(key(seq))
	if raw == nil {
		return agent.Message{}, corrupt(seq, "indexed but missing")
	}
	return decode(seq, raw)
}

// corrupt is ErrCorrupt with the record's place, so the sender can discard
// just that record.
func corrupt(seq uint64, why string) error {
	return fmt.Errorf("%w: %w", ErrCorrupt, &agent.CorruptError{Seq: seq, Reason: why})
}

// Discard implements agent.Outbox: it removes a record whatever state it is
// in, then recounts the totals, since an unreadable record's size is not
// known.
func (o *Outbox) Discard(deviceID string, seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return fmt.Errorf("outbox.Discard: %w", ErrClosed)
	}
	var count int
	var total int64
	err := o.db.Update(func(tx *bolt.Tx) error {
		kind := agent.KindHeartbeat // removes a heartbeat index entry too, if there is one
		if err := remove(tx, seq, deviceID, kind); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMsgs).ForEach(func(k, v []byte) error {
			if m, err := decode(binary.BigEndian.Uint64(k), v); err == nil {
				count++
				total += Size(m)
			}
			return nil
		}); err != nil {
			return err
		}
		return writeMeta(tx, count, total)
	})
	if err != nil {
		return fmt.Errorf("outbox.Discard: %w", err)
	}
	o.count, o.bytes = count, total
	if o.newestHB[deviceID] == seq {
		delete(o.newestHB, deviceID)
	}
	o.log.WithFields(logrus.Fields{"seq": seq, "device": deviceID}).Error("discarded an unreadable outbox record")
	return nil
}

func writeMeta(tx *bolt.Tx, count int, total int64) error {
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(keyCount, putUint(uint64(count))); err != nil {
		return err
	}
	return meta.Put(keyBytes, putUint(uint64(total)))
}

func key(seq uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return b[:]
}

func putUint(v uint64) []byte { return key(v) }

func getUint(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// recordVersion leads every encoded message, so a later format can be read
// beside this one after an agent upgrade with messages still queued.
const recordVersion = 1

// encode writes a message as: version, then DeviceID, Kind, Operation,
// MessageID and Created (time's binary form, which keeps its zone offset)
// each uvarint-length-prefixed, then the payload to the end. A compact
// binary form rather than JSON, which would grow XML payloads by a third
// in base64.
func encode(m agent.Message) []byte {
	created, _ := m.Created.MarshalBinary() // fails only for offsets that are not whole minutes
	b := make([]byte, 0, 1+5*binary.MaxVarintLen64+int(Size(m))+len(created))
	b = append(b, recordVersion)
	for _, f := range [][]byte{[]byte(m.DeviceID), []byte(m.Kind), []byte(m.Operation), []byte(m.MessageID), created} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return append(b, m.Payload...)
}

func decode(seq uint64, raw []byte) (agent.Message, error) {
	bad := func(why string) (agent.Message, error) {
		return agent.Message{}, corrupt(seq, why)
	}
	if len(raw) == 0 || raw[0] != recordVersion {
		return bad("unknown record version")
	}
	r := bytes.NewReader(raw[1:])
	var fields [5][]byte
	for i := range fields {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > uint64(r.Len()) {
			return bad("truncated field")
		}
		fields[i] = make([]byte, n)
		_, _ = r.Read(fields[i])
	}
	m := agent.Message{
		Seq:       seq,
		DeviceID:  string(fields[0]),
		Kind:      agent.Kind(fields[1]),
		Operation: string(fields[2]),
		MessageID: string(fields[3]),
	}
	if len(fields[4]) > 0 {
		if err := m.Created.UnmarshalBinary(fields[4]); err != nil {
			return bad("bad time")
		}
	}
	// Copy: bbolt's bytes are valid only inside the transaction.
	m.Payload = make([]byte, r.Len())
	_, _ = r.Read(m.Payload)
	return m, nil
}
