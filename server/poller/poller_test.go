package poller_test

import (
	"context"
	"errors"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/poller"
)

// fakeQueue is the part of an InstructionStore the poller uses. Wake-ups
// are a channel the spec sends on; every call is counted so specs can
// assert the order of events instead of durations.
type fakeQueue struct {
	server.InstructionStore // the rest panics if the poller ever calls it

	mu       sync.Mutex
	pending  []server.Instruction
	checks   int
	claims   []server.MessageRef
	limits   []int
	watching int
	stopped  int
	wake     chan struct{}
	checkErr error
	claimErr error
}

func newFakeQueue() *fakeQueue { return &fakeQueue{wake: make(chan struct{})} }

func (f *fakeQueue) WatchInstructions(string) (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watching++
	return f.wake, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.stopped++
	}
}

func (f *fakeQueue) ClaimedBefore(_ context.Context, ref server.MessageRef) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.claims {
		if c == ref {
			return true, nil
		}
	}
	return false, f.checkErr
}

func (f *fakeQueue) HasPendingInstructions(context.Context, string, time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks++
	return len(f.pending) > 0, f.checkErr
}

func (f *fakeQueue) ClaimInstructions(_ context.Context, ref server.MessageRef, limit int, _ time.Time) ([]server.Instruction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims = append(f.claims, ref)
	f.limits = append(f.limits, limit)
	if f.claimErr != nil {
		return nil, f.claimErr
	}
	got := f.pending[:min(limit, len(f.pending))]
	f.pending = f.pending[len(got):]
	return got, nil
}

func (f *fakeQueue) queue(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, server.Instruction{ID: id, DeviceID: "dev-0001", Status: server.InstructionQueued})
}

func (f *fakeQueue) claimCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.claims)
}

func (f *fakeQueue) checkCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checks
}

func (f *fakeQueue) stops() (watching, stopped int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watching, f.stopped
}

type result struct {
	got []server.Instruction
	err error
}

var _ = Describe("Poller", func() {
	var (
		q   *fakeQueue
		p   *poller.Poller
		ref server.MessageRef
	)
	BeforeEach(func() {
		q = newFakeQueue()
		var err error
		p, err = poller.New(q, nil)
		Expect(err).NotTo(HaveOccurred())
		ref = server.MessageRef{DeviceID: "dev-0001", MessageID: "5f0c6a36-7d5e-4c55-9e8c-1f2a3b4c5d6e", SentAt: time.Now()}
	})
	// start runs a poll in the background; its answer arrives on the channel.
	start := func(ctx context.Context, wait time.Duration) <-chan result {
		done := make(chan result, 1)
		go func() {
			got, err := p.Poll(ctx, ref, 5, wait)
			done <- result{got, err}
		}()
		return done
	}
	// Long waits are MaxWait: a spec that finishes at all was not timed out.
	const long = poller.MaxWait

	It("needs a store", func() {
		_, err := poller.New(nil, nil)
		Expect(err).To(HaveOccurred())
	})

	It("answers at once when an instruction is pending, claiming once", func() {
		q.queue("in-1")
		var r result
		Eventually(start(context.Background(), long)).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.got).To(HaveLen(1))
		Expect(r.got[0].ID).To(Equal("in-1"))
		Expect(q.claims).To(Equal([]server.MessageRef{ref}), "the claim carries the request's MessageRef")
		Expect(p.Waiting()).To(BeZero())
	})

	It("answers a repeated poll from the record at once, without waiting", func() {
		q.queue("in-1")
		var r result
		Eventually(start(context.Background(), long)).Should(Receive(&r))
		Expect(r.got).To(HaveLen(1))
		// The answer was lost; the device asks again under the same id.
		Eventually(start(context.Background(), long)).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(q.claims).To(Equal([]server.MessageRef{ref, ref}), "the second poll went straight to the (idempotent) claim")
	})

	It("waits, and is woken by a queued instruction", func() {
		done := start(context.Background(), long)
		Eventually(p.Waiting).Should(BeEquivalentTo(1))
		Expect(q.claimCount()).To(BeZero(), "a waiting poll has recorded no answer yet")
		q.queue("in-1")
		q.wake <- struct{}{}
		var r result
		Eventually(done).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.got).To(HaveLen(1))
		Expect(q.claimCount()).To(Equal(1))
		Expect(p.Waiting()).To(BeZero())
	})

	// The claim records the answer under the message id; a woken poll that
	// had claimed its empty answer first would replay that empty answer to
	// the device's retry and lose the instruction.
	It("claims exactly once even when woken for nothing", func() {
		done := start(context.Background(), long)
		Eventually(p.Waiting).Should(BeEquivalentTo(1))
		q.wake <- struct{}{} // another replica took it, or a stray notify
		Eventually(q.checkCount).Should(Equal(2))
		Consistently(done, 50*time.Millisecond).ShouldNot(Receive())
		Expect(q.claimCount()).To(BeZero())
		q.queue("in-1")
		q.wake <- struct{}{}
		var r result
		Eventually(done).Should(Receive(&r))
		Expect(r.got).To(HaveLen(1))
		Expect(q.claimCount()).To(Equal(1))
	})

	It("claims once with nothing pending when the wait is over", func() {
		var r result
		Eventually(start(context.Background(), 20*time.Millisecond)).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.got).To(BeEmpty())
		Expect(q.claimCount()).To(Equal(1))
		Expect(p.Waiting()).To(BeZero())
	})

	DescribeTable("answers without waiting when no wait is asked",
		func(wait time.Duration) {
			var r result
			Eventually(start(context.Background(), wait)).Should(Receive(&r))
			Expect(r.err).NotTo(HaveOccurred())
			Expect(q.claimCount()).To(Equal(1))
			Expect(q.checkCount()).To(Equal(1))
		},
		Entry("zero", time.Duration(0)),
		Entry("negative", -time.Second),
	)

	It("asks for 10 instructions when the device names no limit", func() {
		_, err := p.Poll(context.Background(), ref, 0, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(q.limits).To(Equal([]int{10}))
	})

	It("ends a waiting poll on Close, and does not wait afterwards", func() {
		done := start(context.Background(), long)
		Eventually(p.Waiting).Should(BeEquivalentTo(1))
		p.Close()
		var r result
		Eventually(done).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.got).To(BeEmpty())
		Expect(q.claimCount()).To(Equal(1))

		Eventually(start(context.Background(), long)).Should(Receive(&r))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(q.claimCount()).To(Equal(2))
		p.Close() // twice is fine
	})

	It("answers UNAVAILABLE without claiming when the request goes away", func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := start(ctx, long)
		Eventually(p.Waiting).Should(BeEquivalentTo(1))
		cancel()
		var r result
		Eventually(done).Should(Receive(&r))
		Expect(server.CodeOf(r.err)).To(Equal(server.CodeUnavailable))
		Expect(q.claimCount()).To(BeZero(), "an answer no one reads must not take instructions")
		Expect(p.Waiting()).To(BeZero())
	})

	It("counts every waiting poll, and stops every watch", func() {
		ctx, cancel := context.WithCancel(context.Background())
		a := start(ctx, long)
		b := start(ctx, long)
		Eventually(p.Waiting).Should(BeEquivalentTo(2))
		cancel()
		Eventually(a).Should(Receive())
		Eventually(b).Should(Receive())
		Expect(p.Waiting()).To(BeZero())
		watching, stopped := q.stops()
		Expect(watching).To(Equal(2))
		Expect(stopped).To(Equal(2))
	})

	It("passes store errors on", func() {
		q.checkErr = server.Wrap(server.CodeUnavailable, "store down", errors.New("boom"))
		_, err := p.Poll(context.Background(), ref, 5, long)
		Expect(server.CodeOf(err)).To(Equal(server.CodeUnavailable))
		Expect(q.claimCount()).To(BeZero())

		q.checkErr = nil
		q.claimErr = server.Wrap(server.CodeUnavailable, "store down", errors.New("boom"))
		_, err = p.Poll(context.Background(), ref, 5, 0)
		Expect(server.CodeOf(err)).To(Equal(server.CodeUnavailable))
		watching, stopped := q.stops()
		Expect(stopped).To(Equal(watching))
	})
})
