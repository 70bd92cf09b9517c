package main_test

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/generated/device"
	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/wssec/pki"
)

// audited returns the audit records of one actor and action, newest first.
func audited(mgr interface {
	QueryAudit(context.Context, *management.QueryAudit) (*management.QueryAuditResponse, error)
}, actor, action string) []*management.AuditRecord {
	GinkgoHelper()
	r, err := mgr.QueryAudit(context.Background(), &management.QueryAudit{Actor: actor, Action: action, Limit: 500})
	Expect(err).NotTo(HaveOccurred())
	return r.Record
}

func outcome(r *management.AuditRecord) management.AuditOutcome {
	if r.Outcome == nil {
		return ""
	}
	return *r.Outcome
}

var _ = Describe("RegisterDevice under --require-registration", func() {
	It("admits a pre-registered device, refuses an unregistered one with UNKNOWN_DEVICE, and audits both", func() {
		s := testserver.Start(bin, testserver.Options{Args: []string{"--require-registration"}})
		mgr := s.Manager()
		ctx := context.Background()

		reg, err := mgr.RegisterDevice(ctx, &management.RegisterDevice{DeviceId: "dev-0002", DisplayName: "Analyser, lab 3",
			Customer: "St. Elsewhere", Site: "Main campus", Model: "Lyra 9"})
		Expect(err).NotTo(HaveOccurred())
		sum := reg.Device.Summary
		Expect(sum.DeviceId).To(Equal("dev-0002"))
		Expect(sum.DisplayName).To(Equal("Analyser, lab 3"))
		Expect(sum.Customer).To(Equal("St. Elsewhere"))
		Expect(sum.Site).To(Equal("Main campus"))
		Expect(sum.Model).To(Equal("Lyra 9"))
		// Never seen: offline (the schema requires a state), no last-seen time.
		Expect(*sum.State).To(Equal(management.HealthStateOffline))
		Expect(sum.LastSeen.ToGoTime().IsZero()).To(BeTrue())

		_, err = s.Device("dev-0002").Heartbeat(ctx, heartbeat(device.HealthStateWarning))
		Expect(err).NotTo(HaveOccurred())
		got, err := mgr.GetDevice(ctx, &management.GetDevice{DeviceId: "dev-0002"})
		Expect(err).NotTo(HaveOccurred())
		Expect(*got.Device.Summary.State).To(Equal(management.HealthStateWarning))
		Expect(got.Device.Summary.Model).To(Equal("Lyra 9"))
		Expect(got.Device.CertificateSubject).To(ContainSubstring("CN=dev-0002"))

		_, err = s.Device("dev-0001").Heartbeat(ctx, heartbeat(device.HealthStateOk))
		Expect(faultCode(err)).To(Equal("UNKNOWN_DEVICE"))

		_, err = mgr.RegisterDevice(ctx, &management.RegisterDevice{DeviceId: "dev-0002"})
		Expect(faultCode(err)).To(Equal("CONFLICT"))
		_, err = mgr.RegisterDevice(ctx, &management.RegisterDevice{DeviceId: "-not/an id"})
		Expect(faultCode(err)).To(Equal("MALFORMED"))
		_, err = mgr.RegisterDevice(ctx, &management.RegisterDevice{DeviceId: "dev-0003", Model: strings.Repeat("m", 129)})
		Expect(faultCode(err)).To(Equal("TOO_LARGE"))

		regs := audited(mgr, "user:admin", "manage.RegisterDevice")
		Expect(regs).To(HaveLen(4))
		Expect(regs[len(regs)-1].Target).To(Equal("dev-0002"))
		Expect(outcome(regs[len(regs)-1])).To(Equal(management.AuditOutcomeSuccess))
		Expect(regs[len(regs)-2].Detail).To(HavePrefix("[CONFLICT] "))
		refused := audited(mgr, "device:dev-0001", "device.Heartbeat")
		Expect(refused).To(HaveLen(1))
		Expect(outcome(refused[0])).To(Equal(management.AuditOutcomeDenied))
		Expect(refused[0].Detail).To(HavePrefix("[UNKNOWN_DEVICE] "))
	})
})

var _ = Describe("RevokeCertificate", func() {
	It("refuses dev-0001's certificate with FORBIDDEN from the next request on, audits every refusal, and keeps it refused across a restart", func() {
		s := testserver.Start(bin, testserver.Options{})
		mgr := s.Manager()
		dev := s.Device("dev-0001")
		ctx := context.Background()

		// Admitted and, for AdmitCacheTTL (30 s), remembered in memory.
		_, err := dev.Heartbeat(ctx, heartbeat(device.HealthStateOk))
		Expect(err).NotTo(HaveOccurred())

		certs, err := pki.LoadCertificates(fixtures.Path("pki", "devices", "dev-0001.crt"))
		Expect(err).NotTo(HaveOccurred())
		serial := certs[0].SerialNumber.Text(16)
		// Upper case, as openssl prints it; the server stores lower case.
		r, err := mgr.RevokeCertificate(ctx, &management.RevokeCertificate{Serial: strings.ToUpper(serial), Reason: "key compromise"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Serial).To(Equal(serial))

		// At once, well within the admission cache's 30 s.
		_, err = dev.Heartbeat(ctx, heartbeat(device.HealthStateOk))
		Expect(faultCode(err)).To(Equal("FORBIDDEN"))
		_, err = dev.Heartbeat(ctx, heartbeat(device.HealthStateOk))
		Expect(faultCode(err)).To(Equal("FORBIDDEN"))
		_, err = dev.RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}})
		Expect(faultCode(err)).To(Equal("FORBIDDEN"))
		// Another device's certificate is not affected.
		_, err = s.Device("dev-0002").Heartbeat(ctx, heartbeat(device.HealthStateOk))
		Expect(err).NotTo(HaveOccurred())

		s.Stop()
		s.Restart()
		_, err = dev.Heartbeat(ctx, heartbeat(device.HealthStateOk))
		Expect(faultCode(err)).To(Equal("FORBIDDEN"))

		beats := audited(mgr, "device:dev-0001", "device.Heartbeat")
		Expect(beats).To(HaveLen(4))
		Expect(outcome(beats[3])).To(Equal(management.AuditOutcomeSuccess))
		for _, b := range beats[:3] {
			Expect(outcome(b)).To(Equal(management.AuditOutcomeDenied))
			Expect(b.Detail).To(HavePrefix("[FORBIDDEN] "))
		}
		polls := audited(mgr, "device:dev-0001", "device.RequestInstructions")
		Expect(polls).To(HaveLen(1))
		Expect(polls[0].Detail).To(HavePrefix("[FORBIDDEN] "))

		revs := audited(mgr, "user:admin", "manage.RevokeCertificate")
		Expect(revs).To(HaveLen(1))
		Expect(revs[0].Target).To(Equal(serial))
		Expect(outcome(revs[0])).To(Equal(management.AuditOutcomeSuccess))

		_, err = mgr.RevokeCertificate(ctx, &management.RevokeCertificate{Serial: "0b:7f"})
		Expect(faultCode(err)).To(Equal("MALFORMED"))
	})
})

var _ = Describe("CancelInstruction", func() {
	It("keeps a cancelled instruction from being handed out, tells a device reporting on one to stop, and refuses a final one", func() {
		s := testserver.Start(bin, testserver.Options{})
		mgr := s.Manager()
		dev := s.Device("dev-0001")
		ctx := context.Background()
		_, err := dev.Heartbeat(ctx, heartbeat(device.HealthStateOk))
		Expect(err).NotTo(HaveOccurred())

		// Queued, then cancelled: never handed out.
		queued, err := mgr.QueueInstruction(ctx, &management.QueueInstruction{DeviceId: "dev-0001", Type: "RestartAgent"})
		Expect(err).NotTo(HaveOccurred())
		c, err := mgr.CancelInstruction(ctx, &management.CancelInstruction{InstructionId: queued.Instruction.InstructionId})
		Expect(err).NotTo(HaveOccurred())
		Expect(*c.Instruction.Status).To(Equal(management.InstructionStatusCancelled))
		Expect(c.Instruction.InstructionId).To(Equal(queued.Instruction.InstructionId))
		hb, err := dev.Heartbeat(ctx, heartbeat(device.HealthStateOk))
		Expect(err).NotTo(HaveOccurred())
		Expect(hb.InstructionsPending).To(BeFalse())
		polled, err := dev.RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}})
		Expect(err).NotTo(HaveOccurred())
		Expect(polled.Instruction).To(BeEmpty())

		// Delivered, then cancelled: the device's next report answers cancel=true.
		running, err := mgr.QueueInstruction(ctx, &management.QueueInstruction{DeviceId: "dev-0001", Type: "RunDiagnostic"})
		Expect(err).NotTo(HaveOccurred())
		id := running.Instruction.InstructionId
		polled, err = dev.RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}})
		Expect(err).NotTo(HaveOccurred())
		Expect(polled.Instruction).To(HaveLen(1))
		Expect(polled.Instruction[0].Id).To(Equal(id))
		_, err = mgr.CancelInstruction(ctx, &management.CancelInstruction{InstructionId: id})
		Expect(err).NotTo(HaveOccurred())
		status := device.InstructionStatusRunning
		rep, err := dev.ReportInstructionResult(ctx, &device.ReportInstructionResult{DeviceRequest: &device.DeviceRequest{},
			InstructionId: id, Status: &status})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Cancel).To(BeTrue())
		got, err := mgr.GetInstruction(ctx, &management.GetInstruction{InstructionId: id})
		Expect(err).NotTo(HaveOccurred())
		Expect(*got.Instruction.Status).To(Equal(management.InstructionStatusCancelled))

		// Final: cancelled, or finished by the device.
		_, err = mgr.CancelInstruction(ctx, &management.CancelInstruction{InstructionId: id})
		Expect(faultCode(err)).To(Equal("CONFLICT"))
		done, err := mgr.QueueInstruction(ctx, &management.QueueInstruction{DeviceId: "dev-0001", Type: "RunDiagnostic"})
		Expect(err).NotTo(HaveOccurred())
		_, err = dev.RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}})
		Expect(err).NotTo(HaveOccurred())
		succeeded := device.InstructionStatusSucceeded
		rep, err = dev.ReportInstructionResult(ctx, &device.ReportInstructionResult{DeviceRequest: &device.DeviceRequest{},
			InstructionId: done.Instruction.InstructionId, Status: &succeeded, FinishedAt: now()})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Cancel).To(BeFalse())
		_, err = mgr.CancelInstruction(ctx, &management.CancelInstruction{InstructionId: done.Instruction.InstructionId})
		Expect(faultCode(err)).To(Equal("CONFLICT"))
		_, err = mgr.CancelInstruction(ctx, &management.CancelInstruction{InstructionId: "no-such-instruction"})
		Expect(faultCode(err)).To(Equal("NOT_FOUND"))

		cancels := audited(mgr, "user:admin", "manage.CancelInstruction")
		Expect(cancels).To(HaveLen(5))
		Expect(cancels[len(cancels)-1].Target).To(Equal(queued.Instruction.InstructionId))
		Expect(outcome(cancels[len(cancels)-1])).To(Equal(management.AuditOutcomeSuccess))
		Expect(cancels[0].Target).To(Equal("no-such-instruction"))
		Expect(cancels[0].Detail).To(HavePrefix("[NOT_FOUND] "))
	})
})
