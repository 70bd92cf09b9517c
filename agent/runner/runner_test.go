package runner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/auditlog"
	"github.com/rmsproject/rms/agent/outbox"
	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/soapclient"
)

// steady is an adapter whose device never changes: these specs are about
// delivery, not about what is delivered.
type steady struct{}

func (steady) Poll(context.Context) (agent.Sample, error) {
	return agent.Sample{State: "ok", Metrics: []agent.Metric{{Name: "temp", Value: 21, Unit: "C"}}}, nil
}
func (steady) LogFiles() []string { return nil }
func (steady) Close() error       { return nil }

var _ = Describe("Backoff", func() {
	It("starts at Min, doubles, stays within [d, 1.5d], caps at Max and honours a longer retry-after", func() {
		b := &Backoff{Min: 5 * time.Second, Max: 10 * time.Minute}
		want := 5 * time.Second
		for range 12 {
			got := b.Next(0)
			Expect(got).To(BeNumerically(">=", min(want, b.Max)))
			Expect(got).To(BeNumerically("<=", min(want*3/2, b.Max)))
			want *= 2
		}
		Expect(b.Next(0)).To(Equal(10 * time.Minute))
		b.Reset()
		Expect(b.Next(0)).To(BeNumerically("<=", 7500*time.Millisecond))
		Expect(b.Next(time.Minute)).To(Equal(time.Minute))
		Expect(b.Next(time.Hour)).To(Equal(10*time.Minute), "a hint never exceeds the cap")
	})
})

var _ = Describe("alarmBatches", func() {
	It("keeps every event, in order, in messages within the count and size bounds", func() {
		var events []agent.Event
		for i := range 230 {
			e := agent.Event{Code: fmt.Sprintf("E-%03d", i), Severity: agent.SeverityMajor, Text: "x"}
			if i%7 == 0 {
				e.Text = strings.Repeat("t", 1000)
				e.Context = map[string]string{"trace": strings.Repeat("c", 1000)}
			}
			events = append(events, e)
		}
		batches := alarmBatches(events)
		var flat []agent.Event
		for _, b := range batches {
			Expect(len(b)).To(BeNumerically("<=", maxAlarmsPerMessage))
			m, err := newMessage("dev", agent.KindAlarms, "ReportAlarms", alarmsRequest(b), time.Now())
			Expect(err).NotTo(HaveOccurred())
			Expect(len(m.Payload)).To(BeNumerically("<", 40<<10), "well inside the server's 64 KiB once signed")
			flat = append(flat, b...)
		}
		Expect(flat).To(Equal(events))
		Expect(alarmBatches(nil)).To(BeEmpty())
	})
})

var _ = Describe("draining a day of buffered heartbeats", func() {
	It("delivers every one, in order and once, after the outage", func() {
		s := testserver.Start(serverBin, testserver.Options{})
		dir := GinkgoT().TempDir()
		box, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Config{})
		Expect(err).NotTo(HaveOccurred())
		defer box.Close()
		audit, err := auditlog.Open(filepath.Join(dir, "audit"), auditlog.Config{})
		Expect(err).NotTo(HaveOccurred())
		defer audit.Close()

		// 24 h at the default 60 s interval, as the poller would have queued
		// them while the server was unreachable.
		const day = 24 * 60
		start := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range day {
			state := soapclient.HealthStateOk
			hb := &soapclient.Heartbeat{State: &state}
			for _, name := range []string{"cpu", "mem", "disk", "temp", "uptime", "scans", "errors", "queue"} {
				hb.Metric = append(hb.Metric, &soapclient.Metric{Name: name, Value: float64(rng.IntN(1000)) / 10})
			}
			m, err := newMessage("dev-0001", agent.KindHeartbeat, "Heartbeat", hb, start.Add(time.Duration(i)*time.Minute))
			Expect(err).NotTo(HaveOccurred())
			_, err = box.Put(context.Background(), m)
			Expect(err).NotTo(HaveOccurred())
		}
		n, bytes := box.Stats()
		Expect(n).To(Equal(day))

		r, err := New(Config{Devices: []Device{{ID: "dev-0001", Client: s.Device("dev-0001"), Adapter: steady{},
			Interval: time.Hour}}, Outbox: box, Audit: audit})
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		began := time.Now()
		go func() { done <- r.Run(ctx) }()
		Eventually(func() int { n, _ := box.Stats(); return n }).WithTimeout(5 * time.Minute).WithPolling(50 * time.Millisecond).Should(BeZero())
		took := time.Since(began)
		cancel()
		Eventually(done).Should(Receive(BeNil()))
		AddReportEntry("drain", took.String())
		GinkgoWriter.Printf("drained %d heartbeats (%d bytes queued) in %s: %.0f/s\n", day+1, bytes, took, float64(day+1)/took.Seconds())

		hist, err := s.Manager().GetDeviceHistory(context.Background(), &management.GetDeviceHistory{DeviceId: "dev-0001", Limit: 500})
		Expect(err).NotTo(HaveOccurred())
		var all []*management.HistoryEntry
		all = append(all, hist.Entry...)
		for hist.NextPageToken != "" {
			hist, err = s.Manager().GetDeviceHistory(context.Background(), &management.GetDeviceHistory{DeviceId: "dev-0001", Limit: 500, PageToken: hist.NextPageToken})
			Expect(err).NotTo(HaveOccurred())
			all = append(all, hist.Entry...)
		}
		Expect(all).To(HaveLen(day + 1)) // the day, plus the poll at start
		for i := 1; i < day; i++ {
			Expect(all[i].Time.ToGoTime()).To(BeTemporally("==", start.Add(time.Duration(i)*time.Minute)))
		}
	})
})
