package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/outbox"
)

var ctx = context.Background()

// msg builds a message whose Size is exactly size bytes (size must be at
// least the metadata it carries).
func msg(device string, kind agent.Kind, id string, size int64) agent.Message {
	m := agent.Message{DeviceID: device, Kind: kind, Operation: "Op", MessageID: id}
	meta := outbox.Size(m)
	Expect(size).To(BeNumerically(">=", meta), "size below the message's metadata")
	m.Payload = make([]byte, size-meta)
	for i := range m.Payload {
		m.Payload[i] = byte('a' + i%26)
	}
	return m
}

func ids(ms []agent.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.MessageID
	}
	return out
}

var _ = Describe("Outbox", func() {
	var (
		path string
		o    *outbox.Outbox
		hook *test.Hook
		cfg  outbox.Config
		now  time.Time
	)

	open := func() *outbox.Outbox {
		ob, err := outbox.Open(path, cfg)
		Expect(err).NotTo(HaveOccurred())
		return ob
	}

	BeforeEach(func() {
		path = filepath.Join(GinkgoT().TempDir(), "outbox.db")
		var logger *logrus.Logger
		logger, hook = test.NewNullLogger()
		now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		cfg = outbox.Config{Logger: logrus.NewEntry(logger), Now: func() time.Time { return now }}
	})
	AfterEach(func() {
		if o != nil {
			Expect(o.Check()).To(Succeed())
			Expect(o.Close()).To(Succeed())
			o = nil
		}
	})

	Describe("Config", func() {
		It("defaults MaxBytes to 64 MiB", func() {
			o = open()
			Expect(o.MaxBytes()).To(Equal(int64(64 << 20)))
		})
		It("refuses a negative MaxBytes", func() {
			cfg.MaxBytes = -1
			_, err := outbox.Open(path, cfg)
			Expect(err).To(MatchError(ContainSubstring("MaxBytes")))
		})
		It("works with a nil logger and clock", func() {
			o, _ = outbox.Open(path, outbox.Config{})
			Expect(o).NotTo(BeNil())
			_, err := o.Put(ctx, msg("d", agent.KindAlarms, "a", 100))
			Expect(err).NotTo(HaveOccurred())
		})
		It("refuses a second opener of the same file instead of hanging", func() {
			o = open()
			cfg.LockTimeout = 50 * time.Millisecond
			_, err := outbox.Open(path, cfg)
			Expect(err).To(HaveOccurred())
		})
	})

	Describe("Put, Pending and Ack", func() {
		BeforeEach(func() { o = open() })

		It("assigns increasing sequence numbers and keeps each device's order", func() {
			var seqs []uint64
			for i, d := range []string{"a", "b", "a", "a", "b"} {
				seq, err := o.Put(ctx, msg(d, agent.KindAlarms, fmt.Sprintf("%s%d", d, i), 100))
				Expect(err).NotTo(HaveOccurred())
				seqs = append(seqs, seq)
			}
			Expect(seqs).To(Equal([]uint64{1, 2, 3, 4, 5}))

			a, err := o.Pending("a", 10)
			Expect(err).NotTo(HaveOccurred())
			Expect(ids(a)).To(Equal([]string{"a0", "a2", "a3"}))
			Expect(a[0].Seq).To(Equal(uint64(1)))
			Expect(a[0].Created).To(BeTemporally("==", now), "a zero Created is filled from the clock")

			b, _ := o.Pending("b", 1)
			Expect(ids(b)).To(Equal([]string{"b1"}))
			none, _ := o.Pending("nobody", 10)
			Expect(none).To(BeEmpty())
			Expect(o.Devices()).To(ConsistOf("a", "b"))
		})

		It("returns the message as it was put", func() {
			created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600))
			in := agent.Message{DeviceID: "dev", Kind: agent.KindResult, Operation: "ReportInstructionResult",
				MessageID: "4f1c", Created: created, Payload: []byte("<r>ok</r>")}
			seq, err := o.Put(ctx, in)
			Expect(err).NotTo(HaveOccurred())
			out, _ := o.Pending("dev", 1)
			in.Seq = seq
			Expect(out).To(HaveLen(1))
			Expect(out[0].Created).To(BeTemporally("==", created))
			out[0].Created, in.Created = time.Time{}, time.Time{}
			Expect(out[0]).To(Equal(in))
		})

		It("deletes on Ack and treats a repeated or unknown Ack as done", func() {
			s1, _ := o.Put(ctx, msg("d", agent.KindAlarms, "1", 100))
			_, _ = o.Put(ctx, msg("d", agent.KindHeartbeat, "2", 200))
			Expect(o.Ack(s1)).To(Succeed())
			Expect(o.Ack(s1)).To(Succeed())
			Expect(o.Ack(999)).To(Succeed())
			p, _ := o.Pending("d", 10)
			Expect(ids(p)).To(Equal([]string{"2"}))
			n, bytes := o.Stats()
			Expect(n).To(Equal(1))
			Expect(bytes).To(Equal(int64(200)))
		})

		It("never reuses a sequence number, even once empty and reopened", func() {
			s, _ := o.Put(ctx, msg("d", agent.KindAlarms, "1", 100))
			Expect(o.Ack(s)).To(Succeed())
			Expect(o.Close()).To(Succeed())
			o = open()
			s2, _ := o.Put(ctx, msg("d", agent.KindAlarms, "2", 100))
			Expect(s2).To(BeNumerically(">", s))
		})

		It("refuses a message without device or kind, and a cancelled context", func() {
			_, err := o.Put(ctx, agent.Message{Kind: agent.KindAlarms})
			Expect(err).To(MatchError(outbox.ErrInvalid))
			_, err = o.Put(ctx, agent.Message{DeviceID: "d"})
			Expect(err).To(MatchError(outbox.ErrInvalid))
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			_, err = o.Put(cancelled, msg("d", agent.KindAlarms, "x", 100))
			Expect(err).To(MatchError(context.Canceled))
			n, _ := o.Stats()
			Expect(n).To(BeZero())
		})

		It("fails clearly after Close", func() {
			Expect(o.Close()).To(Succeed())
			_, err := o.Put(ctx, msg("d", agent.KindAlarms, "x", 100))
			Expect(err).To(MatchError(outbox.ErrClosed))
			Expect(o.Ack(1)).To(MatchError(outbox.ErrClosed))
			_, err = o.Pending("d", 1)
			Expect(err).To(MatchError(outbox.ErrClosed))
			Expect(o.Close()).To(Succeed())
			o = nil
		})
	})

	It("keeps order, contents and sizes across a reopen", func() {
		o = open()
		var want []string
		var total int64
		for i := range 50 {
			m := msg(fmt.Sprintf("d%d", i%2), []agent.Kind{agent.KindHeartbeat, agent.KindAlarms, agent.KindAudit}[i%3],
				fmt.Sprint(i), int64(100+i*13))
			_, err := o.Put(ctx, m)
			Expect(err).NotTo(HaveOccurred())
			total += outbox.Size(m)
			if i%2 == 0 {
				want = append(want, fmt.Sprint(i))
			}
		}
		first, _ := o.Pending("d0", 100)
		Expect(o.Close()).To(Succeed())

		o = open()
		Expect(o.Check()).To(Succeed())
		n, bytes := o.Stats()
		Expect(n).To(Equal(50))
		Expect(bytes).To(Equal(total))
		again, err := o.Pending("d0", 100)
		Expect(err).NotTo(HaveOccurred())
		Expect(ids(again)).To(Equal(want))
		Expect(again).To(Equal(first))
	})

	Describe("when space runs short", func() {
		const unit = 1000

		BeforeEach(func() {
			cfg.MaxBytes = 4 * unit
			o = open()
		})

		put := func(device string, kind agent.Kind, id string, size int64) error {
			_, err := o.Put(ctx, msg(device, kind, id, size))
			return err
		}
		held := func() []string {
			var out []string
			devs, err := o.Devices()
			Expect(err).NotTo(HaveOccurred())
			for _, d := range devs {
				p, err := o.Pending(d, 100)
				Expect(err).NotTo(HaveOccurred())
				out = append(out, ids(p)...)
			}
			return out
		}

		It("drops nothing when the new message fills MaxBytes exactly", func() {
			Expect(put("a", agent.KindHeartbeat, "h1", unit)).To(Succeed())
			Expect(put("a", agent.KindHeartbeat, "h2", unit)).To(Succeed())
			Expect(put("a", agent.KindHeartbeat, "h3", unit)).To(Succeed())
			Expect(put("a", agent.KindAlarms, "x", unit)).To(Succeed())
			Expect(held()).To(ConsistOf("h1", "h2", "h3", "x"))
			_, bytes := o.Stats()
			Expect(bytes).To(Equal(int64(4 * unit)))
		})

		It("drops the oldest heartbeat when one byte more would not fit", func() {
			Expect(put("a", agent.KindHeartbeat, "h1", unit)).To(Succeed())
			Expect(put("a", agent.KindHeartbeat, "h2", unit)).To(Succeed())
			Expect(put("a", agent.KindHeartbeat, "h3", unit)).To(Succeed())
			Expect(put("a", agent.KindAlarms, "x", unit+1)).To(Succeed())
			Expect(held()).To(ConsistOf("h2", "h3", "x"))
			n, bytes := o.Stats()
			Expect(n).To(Equal(3))
			Expect(bytes).To(Equal(int64(3*unit + 1)))
			Expect(hook.LastEntry().Level).To(Equal(logrus.WarnLevel))
		})

		It("drops the oldest heartbeats of any device but spares each device's newest while it can", func() {
			Expect(put("a", agent.KindHeartbeat, "a1", unit)).To(Succeed()) // a's oldest
			Expect(put("b", agent.KindHeartbeat, "b1", unit)).To(Succeed()) // b's newest
			Expect(put("a", agent.KindHeartbeat, "a2", unit)).To(Succeed())
			Expect(put("a", agent.KindHeartbeat, "a3", unit)).To(Succeed()) // a's newest
			// Needs two units: a1 and a2 go; b1, older than a2, stays as b's newest.
			Expect(put("c", agent.KindAlarms, "x", 2*unit)).To(Succeed())
			Expect(held()).To(ConsistOf("b1", "a3", "x"))
			// Now only newest heartbeats are left: the older of them goes.
			Expect(put("c", agent.KindAlarms, "y", unit)).To(Succeed())
			Expect(held()).To(ConsistOf("a3", "x", "y"))
		})

		It("lets a new heartbeat replace its own device's older one", func() {
			Expect(put("a", agent.KindHeartbeat, "a1", unit)).To(Succeed())
			Expect(put("b", agent.KindHeartbeat, "b1", unit)).To(Succeed())
			Expect(put("c", agent.KindAlarms, "x", 2*unit)).To(Succeed())
			Expect(put("b", agent.KindHeartbeat, "b2", unit)).To(Succeed())
			Expect(held()).To(ConsistOf("a1", "b2", "x"))
		})

		It("fails with ErrFull, dropping nothing, when alarms alone fill it", func() {
			for i := range 4 {
				Expect(put("a", agent.KindAlarms, fmt.Sprint(i), unit)).To(Succeed())
			}
			smallest := outbox.Size(agent.Message{DeviceID: "a", Kind: agent.KindAlarms, Operation: "Op", MessageID: "more"})
			err := put("a", agent.KindAlarms, "more", smallest)
			Expect(err).To(MatchError(outbox.ErrFull))
			Expect(put("a", agent.KindHeartbeat, "hb", unit)).To(MatchError(outbox.ErrFull))
			Expect(held()).To(ConsistOf("0", "1", "2", "3"))
		})

		It("fails with ErrFull rather than drop heartbeats that would not make room anyway", func() {
			Expect(put("a", agent.KindAlarms, "x", 2*unit)).To(Succeed())
			Expect(put("a", agent.KindHeartbeat, "h", unit)).To(Succeed())
			Expect(put("a", agent.KindResult, "r", unit/2)).To(Succeed())
			Expect(put("a", agent.KindAudit, "big", 2*unit)).To(MatchError(outbox.ErrFull))
			Expect(held()).To(ConsistOf("x", "h", "r"))
			Expect(put("a", agent.KindAudit, "fits", 3*unit/2)).To(Succeed())
			Expect(held()).To(ConsistOf("x", "r", "fits"))
		})

		It("logs at error level once per transition into full", func() {
			for i := range 4 {
				Expect(put("a", agent.KindAlarms, fmt.Sprint(i), unit)).To(Succeed())
			}
			errorsLogged := func() int {
				n := 0
				for _, e := range hook.AllEntries() {
					if e.Level == logrus.ErrorLevel {
						n++
						Expect(e.Data).To(HaveKeyWithValue("component", "outbox"))
					}
				}
				return n
			}
			for range 3 {
				Expect(put("a", agent.KindAlarms, "more", unit)).To(MatchError(outbox.ErrFull))
			}
			Expect(errorsLogged()).To(Equal(1))

			p, _ := o.Pending("a", 1)
			Expect(o.Ack(p[0].Seq)).To(Succeed())
			Expect(put("a", agent.KindAlarms, "more", unit)).To(Succeed())
			Expect(put("a", agent.KindAlarms, "again", unit)).To(MatchError(outbox.ErrFull))
			Expect(errorsLogged()).To(Equal(2))
		})

		It("refuses a message larger than the whole outbox with its own error", func() {
			err := put("a", agent.KindAlarms, "huge", 4*unit+1)
			Expect(err).To(MatchError(outbox.ErrTooLarge))
			Expect(errors.Is(err, outbox.ErrFull)).To(BeFalse())
			Expect(put("a", agent.KindAlarms, "whole", 4*unit)).To(Succeed())
		})

		It("remembers each device's newest heartbeat across a reopen and after acks", func() {
			Expect(put("a", agent.KindHeartbeat, "a1", unit)).To(Succeed())
			Expect(put("a", agent.KindHeartbeat, "a2", unit)).To(Succeed())
			Expect(put("b", agent.KindHeartbeat, "b1", unit)).To(Succeed())
			Expect(o.Close()).To(Succeed())
			o = open()
			// a1 is not a's newest: it goes before b1, though b1 is older than a2.
			Expect(put("c", agent.KindAlarms, "x", 2*unit)).To(Succeed())
			Expect(held()).To(ConsistOf("a2", "b1", "x"))

			// Ack a's newest: a has no heartbeat left, b1 is the only one.
			p, _ := o.Pending("a", 1)
			Expect(o.Ack(p[0].Seq)).To(Succeed())
			Expect(put("a", agent.KindHeartbeat, "a3", unit)).To(Succeed())
			Expect(put("c", agent.KindAlarms, "y", unit)).To(Succeed())
			Expect(held()).To(ConsistOf("a3", "x", "y"))
		})
	})

	It("stays consistent under concurrent Put, Pending and Ack", func() {
		cfg.MaxBytes = 40 * 1000
		o = open()
		const producers, perProducer = 4, 60
		var wg sync.WaitGroup
		for p := range producers {
			wg.Go(func() {
				defer GinkgoRecover()
				for i := range perProducer {
					kind := agent.KindAlarms
					if i%2 == 0 {
						kind = agent.KindHeartbeat
					}
					m := msg(fmt.Sprintf("d%d", p), kind, fmt.Sprintf("%d-%d", p, i), 900)
					for {
						_, err := o.Put(ctx, m)
						if !errors.Is(err, outbox.ErrFull) {
							Expect(err).NotTo(HaveOccurred())
							break
						}
						time.Sleep(time.Millisecond) // the consumer will make room
					}
				}
			})
		}
		done := make(chan struct{})
		acked := map[string]bool{}
		var consumer sync.WaitGroup
		consumer.Go(func() {
			defer GinkgoRecover()
			last := map[string]uint64{}
			for {
				busy := false
				for p := range producers {
					d := fmt.Sprintf("d%d", p)
					batch, err := o.Pending(d, 5)
					Expect(err).NotTo(HaveOccurred())
					for _, m := range batch {
						Expect(m.Seq).To(BeNumerically(">", last[d]), "per-device order")
						last[d] = m.Seq
						Expect(acked).NotTo(HaveKey(m.MessageID), "an acked message came back")
						acked[m.MessageID] = true
						Expect(o.Ack(m.Seq)).To(Succeed())
						busy = true
					}
				}
				select {
				case <-done:
					if !busy {
						return
					}
				default:
				}
			}
		})
		wg.Wait()
		close(done)
		consumer.Wait()

		n, bytes := o.Stats()
		Expect(n).To(BeZero())
		Expect(bytes).To(BeZero())
		for p := range producers {
			for i := 1; i < perProducer; i += 2 {
				Expect(acked).To(HaveKey(fmt.Sprintf("%d-%d", p, i)), "an alarm was lost")
			}
		}
	})
})
