package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/batch"
	"github.com/rmsproject/rms/server/ingest"
)

// fakeHeartbeats records what reaches the store; write decides the answer.
type fakeHeartbeats struct {
	mu      sync.Mutex
	written []server.Heartbeat
	write   func([]server.Heartbeat) ([]server.HeartbeatAck, error)
}

func (f *fakeHeartbeats) WriteHeartbeats(_ context.Context, b []server.Heartbeat) ([]server.HeartbeatAck, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.write != nil {
		return f.write(b)
	}
	f.written = append(f.written, b...)
	acks := make([]server.HeartbeatAck, len(b))
	for i := range b {
		acks[i] = server.HeartbeatAck{IntervalSeconds: 60 + len(f.written) - len(b) + i}
	}
	return acks, nil
}

func (f *fakeHeartbeats) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.written)
}

func hb(id string, metrics, props int) server.Heartbeat {
	h := server.Heartbeat{MessageRef: server.MessageRef{DeviceID: "dev-0001", MessageID: id}, State: server.StateOK}
	for i := range metrics {
		h.Metrics = append(h.Metrics, server.Metric{Name: fmt.Sprintf("m%d", i), Value: float64(i)})
	}
	for i := range props {
		h.Properties = append(h.Properties, server.Attr{Name: fmt.Sprintf("p%d", i), Value: "v"})
	}
	return h
}

var _ = Describe("Ingester", func() {
	var (
		store *fakeHeartbeats
		in    *ingest.Ingester
		ctx   context.Context
	)
	BeforeEach(func() {
		ctx = context.Background()
		store = &fakeHeartbeats{}
		var err error
		in, err = ingest.New(ingest.Config{Store: store, Batch: batch.Config{Linger: time.Millisecond}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(in.Close)
	})

	It("needs a store", func() {
		_, err := ingest.New(ingest.Config{})
		Expect(err).To(HaveOccurred())
	})

	DescribeTable("bounds metrics and properties per heartbeat (default 256)",
		func(metrics, props int, want server.Code) {
			_, err := in.Heartbeat(ctx, hb("m-1", metrics, props))
			Expect(server.CodeOf(err)).To(Equal(want))
			if want == "" {
				Expect(store.count()).To(Equal(1))
			} else {
				Expect(store.count()).To(BeZero(), "a refused heartbeat never reaches the store")
			}
		},
		Entry("none", 0, 0, server.Code("")),
		Entry("256 metrics", 256, 0, server.Code("")),
		Entry("257 metrics", 257, 0, server.CodeTooLarge),
		Entry("256 properties", 0, 256, server.Code("")),
		Entry("257 properties", 0, 257, server.CodeTooLarge),
	)

	It("applies configured limits", func() {
		small, err := ingest.New(ingest.Config{Store: store, MaxMetrics: 2, MaxProperties: 1})
		Expect(err).NotTo(HaveOccurred())
		defer small.Close()
		_, err = small.Heartbeat(ctx, hb("a", 2, 1))
		Expect(err).NotTo(HaveOccurred())
		_, err = small.Heartbeat(ctx, hb("b", 3, 0))
		Expect(server.CodeOf(err)).To(Equal(server.CodeTooLarge))
		_, err = small.Heartbeat(ctx, hb("c", 0, 2))
		Expect(server.CodeOf(err)).To(Equal(server.CodeTooLarge))
	})

	DescribeTable("needs a device and a message id",
		func(device, message string) {
			h := hb(message, 1, 0)
			h.DeviceID = device
			_, err := in.Heartbeat(ctx, h)
			Expect(server.CodeOf(err)).To(Equal(server.CodeMalformed))
		},
		Entry("no device", "", "m-1"),
		Entry("no message id", "dev-0001", ""),
	)

	It("stamps the receive time when the caller did not", func() {
		before := time.Now()
		_, err := in.Heartbeat(ctx, hb("m-1", 0, 0))
		Expect(err).NotTo(HaveOccurred())
		given := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		h := hb("m-2", 0, 0)
		h.ReceivedAt = given
		_, err = in.Heartbeat(ctx, h)
		Expect(err).NotTo(HaveOccurred())
		Expect(store.written[0].ReceivedAt).NotTo(BeTemporally("<", before))
		Expect(store.written[1].ReceivedAt).To(Equal(given))
	})

	It("gives each of many concurrent heartbeats its own ack", func() {
		const n = 50
		var wg sync.WaitGroup
		acks := make([]server.HeartbeatAck, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { acks[i], errs[i] = in.Heartbeat(ctx, hb(fmt.Sprint(i), 1, 0)) })
		}
		wg.Wait()
		seen := map[int]bool{}
		for i := range n {
			Expect(errs[i]).NotTo(HaveOccurred())
			seen[acks[i].IntervalSeconds] = true
		}
		Expect(seen).To(HaveLen(n))
	})

	// Devices retry only what is retryable; whatever goes wrong between
	// the ingester and the store is worth a retry.
	DescribeTable("maps store and batch failures to UNAVAILABLE",
		func(write func([]server.Heartbeat) ([]server.HeartbeatAck, error)) {
			store.write = write
			_, err := in.Heartbeat(ctx, hb("m-1", 1, 0))
			Expect(server.CodeOf(err)).To(Equal(server.CodeUnavailable))
			Expect(server.MessageOf(err)).NotTo(ContainSubstring("disk I/O"))
		},
		Entry("a coded store outage", func([]server.Heartbeat) ([]server.HeartbeatAck, error) {
			return nil, server.Wrap(server.CodeUnavailable, "store is unavailable", errors.New("disk I/O error"))
		}),
		Entry("an uncoded error", func([]server.Heartbeat) ([]server.HeartbeatAck, error) {
			return nil, errors.New("disk I/O error")
		}),
		Entry("too few acks", func([]server.Heartbeat) ([]server.HeartbeatAck, error) { return nil, nil }),
		Entry("a panic", func([]server.Heartbeat) ([]server.HeartbeatAck, error) { panic("disk I/O error") }),
	)

	It("keeps a store's own non-retryable code", func() {
		store.write = func([]server.Heartbeat) ([]server.HeartbeatAck, error) {
			return nil, server.Errorf(server.CodeUnknownDevice, "device was never admitted")
		}
		_, err := in.Heartbeat(ctx, hb("m-1", 1, 0))
		Expect(server.CodeOf(err)).To(Equal(server.CodeUnknownDevice))
	})

	It("answers UNAVAILABLE after Close and when the caller gives up", func() {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := in.Heartbeat(cctx, hb("m-1", 1, 0))
		Expect(server.CodeOf(err)).To(Equal(server.CodeUnavailable))
		in.Close()
		_, err = in.Heartbeat(ctx, hb("m-2", 1, 0))
		Expect(server.CodeOf(err)).To(Equal(server.CodeUnavailable))
	})
})
