package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/rmsproject/rms/agent"
)

// Check proves the file is whole: bbolt's own page-level consistency check,
// then every message decodes, every index entry points at a message of the
// right device and kind and the other way round, and the stored count and
// byte total match a recount. It reads the whole file, so it is for tests
// and for an operator's diagnosis, not for every start.
func (o *Outbox) Check() error {
	err := o.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		var (
			count int
			total int64
			msgs  = map[uint64]agent.Message{}
		)
		err := tx.Bucket(bucketMsgs).ForEach(func(k, v []byte) error {
			seq := binary.BigEndian.Uint64(k)
			m, err := decode(seq, v)
			if err != nil {
				return err
			}
			msgs[seq] = m
			count++
			total += Size(m)
			return nil
		})
		if err != nil {
			return err
		}
		indexed := 0
		err = tx.Bucket(bucketDev).ForEachBucket(func(dev []byte) error {
			return tx.Bucket(bucketDev).Bucket(dev).ForEach(func(k, v []byte) error {
				seq := binary.BigEndian.Uint64(k)
				m, ok := msgs[seq]
				if !ok || m.DeviceID != string(dev) || string(m.Kind) != string(v) {
					return fmt.Errorf("%w: device index %s/%d does not match the message", ErrCorrupt, dev, seq)
				}
				indexed++
				return nil
			})
		})
		if err != nil {
			return err
		}
		if indexed != count {
			return fmt.Errorf("%w: %d messages but %d in the device index", ErrCorrupt, count, indexed)
		}
		heartbeats := 0
		for _, m := range msgs {
			if m.Kind == agent.KindHeartbeat {
				heartbeats++
			}
		}
		hb := 0
		err = tx.Bucket(bucketHB).ForEach(func(k, v []byte) error {
			m, ok := msgs[binary.BigEndian.Uint64(k)]
			if !ok || m.Kind != agent.KindHeartbeat || m.DeviceID != string(v) {
				return fmt.Errorf("%w: heartbeat index entry %d does not match a heartbeat", ErrCorrupt, binary.BigEndian.Uint64(k))
			}
			hb++
			return nil
		})
		if err != nil {
			return err
		}
		if hb != heartbeats {
			return fmt.Errorf("%w: %d heartbeats but %d in the heartbeat index", ErrCorrupt, heartbeats, hb)
		}
		meta := tx.Bucket(bucketMeta)
		if c, b := int(getUint(meta.Get(keyCount))), int64(getUint(meta.Get(keyBytes))); c != count || b != total {
			return fmt.Errorf("%w: stored totals %d messages/%d bytes, recounted %d/%d", ErrCorrupt, c, b, count, total)
		}
		return nil
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	if err != nil {
		return fmt.Errorf("outbox.Check: %w", err)
	}
	return nil
}
