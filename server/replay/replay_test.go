package replay_test

import (
	"context"
	"errors"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/batch"
	"github.com/rmsproject/rms/server/replay"
)

// fakeReplays remembers keys like the store does, or fails with err.
type fakeReplays struct {
	mu   sync.Mutex
	seen map[string]time.Time
	err  error
}

func (f *fakeReplays) RecordReplays(_ context.Context, recs []server.ReplayRecord) ([]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := make([]bool, len(recs))
	for i, r := range recs {
		_, out[i] = f.seen[r.Key]
		if !out[i] {
			f.seen[r.Key] = r.Until
		}
	}
	return out, nil
}

var _ = Describe("Guard", func() {
	var (
		store *fakeReplays
		g     *replay.Guard
		ctx   context.Context
		until time.Time
	)
	BeforeEach(func() {
		ctx = context.Background()
		until = time.Now().Add(10 * time.Minute)
		store = &fakeReplays{seen: map[string]time.Time{}}
		var err error
		g, err = replay.New(store, batch.Config{Linger: time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(g.Close)
	})

	It("needs a store", func() {
		_, err := replay.New(nil, batch.Config{})
		Expect(err).To(HaveOccurred())
	})

	It("reports a key as seen the second time, with its retention", func() {
		seen, err := g.Seen(ctx, "k1", until)
		Expect(err).NotTo(HaveOccurred())
		Expect(seen).To(BeFalse())
		seen, err = g.Seen(ctx, "k1", until)
		Expect(err).NotTo(HaveOccurred())
		Expect(seen).To(BeTrue())
		Expect(store.seen).To(HaveKeyWithValue("k1", until))
	})

	It("lets exactly one of many concurrent senders of the same key through", func() {
		const n = 20
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := 0
		for range n {
			wg.Go(func() {
				seen, err := g.Seen(ctx, "same", until)
				Expect(err).NotTo(HaveOccurred())
				if !seen {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		Expect(fresh).To(Equal(1))
	})

	// The device pipeline must never let a message through because the
	// replay record could not be written; an error is a retryable refusal.
	DescribeTable("maps failures to UNAVAILABLE",
		func(setup func()) {
			setup()
			seen, err := g.Seen(ctx, "k1", until)
			Expect(server.CodeOf(err)).To(Equal(server.CodeUnavailable))
			Expect(seen).To(BeFalse())
		},
		Entry("a coded store outage", func() {
			store.err = server.Wrap(server.CodeUnavailable, "store is unavailable", errors.New("locked"))
		}),
		Entry("an uncoded store error", func() { store.err = errors.New("database is locked") }),
		Entry("a closed guard", func() { g.Close() }),
	)
})
