package main_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures/testenv"
	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/generated/device"
	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/server/auditlog"
	"github.com/rmsproject/rms/server/sqlstore"
	"github.com/rmsproject/rms/soapclient"
)

var _ = Describe("two replicas on one PostgreSQL", Label("postgres"), Ordered, func() {
	var (
		a, b  *testserver.Server
		dbURL string
		ctx   = context.Background()
	)
	BeforeAll(func() {
		var drop func()
		dbURL, drop = testenv.FreshPostgres()
		DeferCleanup(drop)
		// Both start at once: migrations run under an advisory lock.
		var wg sync.WaitGroup
		wg.Go(func() { defer GinkgoRecover(); a = testserver.Start(bin, testserver.Options{DB: dbURL}) })
		wg.Go(func() { defer GinkgoRecover(); b = testserver.Start(bin, testserver.Options{DB: dbURL}) })
		wg.Wait()
	})

	It("loses no heartbeat of devices spread across both", func() {
		const devices, beats = 8, 15
		var wg sync.WaitGroup
		for i := range devices {
			id := testserver.NewIdentity(fmt.Sprintf("rep-%02d", i))
			clients := []*soapclient.Device{a.DeviceAs(id), b.DeviceAs(id)}
			wg.Go(func() {
				defer GinkgoRecover()
				for n := range beats {
					_, err := clients[n%2].Heartbeat(ctx, heartbeat("ok", &device.Metric{Name: "n", Value: float64(n)}))
					Expect(err).NotTo(HaveOccurred())
				}
			})
		}
		wg.Wait()
		for i := range devices {
			h, err := b.Manager().GetDeviceHistory(ctx, &management.GetDeviceHistory{DeviceId: fmt.Sprintf("rep-%02d", i), Limit: 100})
			Expect(err).NotTo(HaveOccurred())
			Expect(h.Entry).To(HaveLen(beats))
		}
	})

	It("refuses on one replica the signed bytes the other accepted", func() {
		id := testserver.NewIdentity("rep-replay")
		signed, err := a.DeviceAs(id).Sign("Heartbeat", heartbeat("ok"))
		Expect(err).NotTo(HaveOccurred())
		r, err := a.DeviceAs(id).SendSigned(ctx, "Heartbeat", signed)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Fault).To(BeNil())
		r, err = b.DeviceAs(id).SendSigned(ctx, "Heartbeat", signed)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Fault).NotTo(BeNil())
		Expect(r.Fault.Code).To(Equal("REPLAY"))
	})

	It("wakes a long-poll on one replica when an instruction is queued on the other", func() {
		id := testserver.NewIdentity("rep-wake")
		onB := b.DeviceAs(id)
		_, err := onB.Heartbeat(ctx, heartbeat("ok"))
		Expect(err).NotTo(HaveOccurred())
		done := make(chan *device.RequestInstructionsResponse, 1)
		start := time.Now()
		go func() {
			defer GinkgoRecover()
			r, err := onB.RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}, WaitSeconds: 25})
			Expect(err).NotTo(HaveOccurred())
			done <- r
		}()
		Eventually(func() string { return metric(b, "rms_longpolls_waiting") }).Should(Equal("1"))
		q, err := a.Manager().QueueInstruction(ctx, &management.QueueInstruction{DeviceId: "rep-wake", Type: "RunDiagnostic"})
		Expect(err).NotTo(HaveOccurred())
		var r *device.RequestInstructionsResponse
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(&r))
		Expect(r.Instruction).To(HaveLen(1))
		Expect(r.Instruction[0].Id).To(Equal(q.Instruction.InstructionId))
		Expect(time.Since(start)).To(BeNumerically("<", 12*time.Second), "the poll waited out its 25 s instead of being woken")
	})

	It("hands every instruction out exactly once to pollers on both replicas", func() {
		id := testserver.NewIdentity("rep-claim")
		clients := []*soapclient.Device{a.DeviceAs(id), b.DeviceAs(id)}
		_, err := clients[0].Heartbeat(ctx, heartbeat("ok"))
		Expect(err).NotTo(HaveOccurred())
		const total = 60
		queued := map[string]bool{}
		for i := range total {
			q, err := []*soapclient.Management{a.Manager(), b.Manager()}[i%2].QueueInstruction(ctx,
				&management.QueueInstruction{DeviceId: "rep-claim", Type: "RunDiagnostic"})
			Expect(err).NotTo(HaveOccurred())
			queued[q.Instruction.InstructionId] = true
		}
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for p := range 6 {
			wg.Go(func() {
				defer GinkgoRecover()
				for {
					r, err := clients[p%2].RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}, MaxInstructions: 3})
					Expect(err).NotTo(HaveOccurred())
					if len(r.Instruction) == 0 {
						return
					}
					mu.Lock()
					for _, in := range r.Instruction {
						got[in.Id]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		Expect(got).To(HaveLen(total))
		for id, n := range got {
			Expect(n).To(Equal(1), "instruction %s handed out %d times", id, n)
			Expect(queued).To(HaveKey(id))
		}
	})

	It("refuses a certificate on one replica the moment it is revoked on the other", func() {
		id := testserver.NewIdentity("rep-revoke")
		onB := b.DeviceAs(id)
		_, err := onB.Heartbeat(ctx, heartbeat("ok")) // B now holds a cached admission
		Expect(err).NotTo(HaveOccurred())
		_, err = a.Manager().RevokeCertificate(ctx, &management.RevokeCertificate{Serial: id.Cert.SerialNumber.Text(16)})
		Expect(err).NotTo(HaveOccurred())
		// Well inside B's 30 s admission cache: only the notification can
		// have told B.
		Eventually(func() string {
			_, err := onB.Heartbeat(ctx, heartbeat("ok"))
			return faultCode(err)
		}).WithTimeout(5 * time.Second).Should(Equal("FORBIDDEN"))
	})

	It("keeps one unbroken audit chain written by both", func() {
		a.Stop()
		b.Stop()
		store, err := sqlstore.Open(ctx, sqlstore.Config{URL: dbURL})
		Expect(err).NotTo(HaveOccurred())
		defer store.Close()
		rep, err := auditlog.Verify(ctx, store)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Break).To(BeNil())
		Expect(rep.Checked).To(BeNumerically(">", 150))
	})
})
