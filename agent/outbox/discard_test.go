package outbox_test

import (
	"encoding/binary"
	"errors"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	bolt "go.etcd.io/bbolt"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/outbox"
)

var _ = Describe("an unreadable record", func() {
	It("is reported with its seq, and Discard lets the messages behind it through", func() {
		path := filepath.Join(GinkgoT().TempDir(), "outbox.db")
		o, err := outbox.Open(path, outbox.Config{})
		Expect(err).NotTo(HaveOccurred())
		var seqs []uint64
		for _, id := range []string{"a", "b", "c"} {
			seq, err := o.Put(ctx, msg("dev", agent.KindAlarms, id, 200))
			Expect(err).NotTo(HaveOccurred())
			seqs = append(seqs, seq)
		}
		Expect(o.Close()).To(Succeed())

		// Damage the oldest record on disk, as a failing disk might.
		db, err := bolt.Open(path, 0o600, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(db.Update(func(tx *bolt.Tx) error {
			k := make([]byte, 8)
			binary.BigEndian.PutUint64(k, seqs[0])
			return tx.Bucket([]byte("msgs")).Put(k, []byte{0xff, 0x00})
		})).To(Succeed())
		Expect(db.Close()).To(Succeed())

		o, err = outbox.Open(path, outbox.Config{})
		Expect(err).NotTo(HaveOccurred())
		defer o.Close()
		_, err = o.Pending("dev", 1)
		var bad *agent.CorruptError
		Expect(errors.As(err, &bad)).To(BeTrue(), "%v", err)
		Expect(bad.Seq).To(Equal(seqs[0]))
		Expect(errors.Is(err, outbox.ErrCorrupt)).To(BeTrue())

		Expect(o.Discard("dev", bad.Seq)).To(Succeed())
		next, err := o.Pending("dev", 5)
		Expect(err).NotTo(HaveOccurred())
		Expect(ids(next)).To(Equal([]string{"b", "c"}))
		n, _ := o.Stats()
		Expect(n).To(Equal(2))
		Expect(o.Check()).To(Succeed())
	})
})
