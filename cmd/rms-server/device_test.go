package main_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hooklift/gowsdl/soap"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/generated/device"
	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/soapclient"
)

func now() soap.XSDDateTime { return soap.CreateXsdDateTime(time.Now().UTC(), true) }

func heartbeat(state device.HealthState, metrics ...*device.Metric) *device.Heartbeat {
	return &device.Heartbeat{DeviceRequest: &device.DeviceRequest{}, State: &state, Metric: metrics}
}

func faultCode(err error) string {
	if err == nil {
		return "no error"
	}
	var f *soapclient.Fault
	if errors.As(err, &f) {
		return f.Code
	}
	return "not a fault: " + err.Error()
}

func sev(s device.Severity) *device.Severity { return &s }

var _ = Describe("the device endpoint", func() {
	var (
		s   *testserver.Server
		dev *soapclient.Device
		mgr *soapclient.Management
		ctx context.Context
	)
	BeforeEach(func() {
		s = testserver.Start(bin, testserver.Options{})
		dev = s.Device("dev-0001")
		mgr = s.Manager()
		ctx = context.Background()
	})

	It("stores a heartbeat, applies a repeated message id once, and refuses replayed bytes", func() {
		hb := heartbeat(device.HealthStateWarning, &device.Metric{Name: "temp", Value: 41.5, Unit: "C"})
		hb.Property = []*device.NameValue{{Name: "firmware", Value: "4.2.1"}}
		resp, err := dev.Heartbeat(ctx, hb)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.NextIntervalSeconds).To(BeZero(), "no interval is set for the device, so it keeps its own")

		got, err := mgr.GetDevice(ctx, &management.GetDevice{DeviceId: "dev-0001"})
		Expect(err).NotTo(HaveOccurred())
		Expect(*got.Device.Summary.State).To(Equal(management.HealthStateWarning))
		Expect(got.Device.Metric).To(HaveLen(1))
		Expect(got.Device.Property).To(ContainElement(&management.NameValue{Name: "firmware", Value: "4.2.1"}))

		// The same message id, signed afresh (a re-send after a lost answer).
		again := heartbeat(device.HealthStateWarning)
		again.DeviceRequest.MessageId = hb.DeviceRequest.MessageId
		_, err = dev.Heartbeat(ctx, again)
		Expect(err).NotTo(HaveOccurred())
		hist, err := mgr.GetDeviceHistory(ctx, &management.GetDeviceHistory{DeviceId: "dev-0001"})
		Expect(err).NotTo(HaveOccurred())
		Expect(hist.Entry).To(HaveLen(1))

		// The exact signed bytes again, also after a restart.
		signed, err := dev.Sign("Heartbeat", heartbeat(device.HealthStateOk))
		Expect(err).NotTo(HaveOccurred())
		r, err := dev.SendSigned(ctx, "Heartbeat", signed)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Fault).To(BeNil())
		s.Stop()
		s.Restart()
		r, err = dev.SendSigned(ctx, "Heartbeat", signed)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Fault).NotTo(BeNil())
		Expect(r.Fault.Code).To(Equal("REPLAY"))
	})

	It("takes a sentAt from a clock that ran ahead as now, so it cannot freeze the device's status", func() {
		ahead := heartbeat(device.HealthStateError)
		ahead.DeviceRequest.SentAt = soap.CreateXsdDateTime(time.Now().Add(2*time.Hour).UTC(), true)
		_, err := dev.Heartbeat(ctx, ahead)
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(1100 * time.Millisecond) // a later whole second
		_, err = dev.Heartbeat(ctx, heartbeat(device.HealthStateOk))
		Expect(err).NotTo(HaveOccurred())
		got, err := mgr.GetDevice(ctx, &management.GetDevice{DeviceId: "dev-0001"})
		Expect(err).NotTo(HaveOccurred())
		Expect(*got.Device.Summary.State).To(Equal(management.HealthStateOk))
		Expect(got.Device.Summary.LastSeen.ToGoTime()).To(BeTemporally("<=", time.Now()))
	})

	It("refuses a message signed by another device than the TLS client, and acting for another device", func() {
		_, err := s.DeviceSignedBy("dev-0001", "dev-0002").Heartbeat(ctx, heartbeat("ok"))
		Expect(faultCode(err)).To(Equal("BAD_SIGNATURE"))
		hb := heartbeat("ok")
		hb.DeviceRequest.DeviceId = "dev-0002"
		_, err = dev.Heartbeat(ctx, hb)
		Expect(faultCode(err)).To(Equal("FORBIDDEN"))
		var f *soapclient.Fault
		Expect(errors.As(err, &f)).To(BeTrue())
		Expect(f.Verified).To(BeTrue(), "the server signs its faults, and the client checks them")
	})

	It("keeps one active alarm per code, and runs its lifecycle", func() {
		alarm := func() *device.ReportAlarms {
			return &device.ReportAlarms{DeviceRequest: &device.DeviceRequest{}, Alarm: []*device.Alarm{{
				Code: "E-101", Severity: sev(device.SeverityCritical), Text: "tube overheating", RaisedAt: now(),
				Context: []*device.NameValue{{Name: "temp", Value: "92"}}}}}
		}
		first := alarm()
		r, err := dev.ReportAlarms(ctx, first)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Accepted).To(BeEquivalentTo(1))
		_, err = dev.ReportAlarms(ctx, alarm())
		Expect(err).NotTo(HaveOccurred())
		list, err := mgr.ListAlarms(ctx, &management.ListAlarms{DeviceId: "dev-0001"})
		Expect(err).NotTo(HaveOccurred())
		Expect(list.Alarm).To(HaveLen(1))
		id := list.Alarm[0].AlarmId

		ack, err := mgr.AcknowledgeAlarm(ctx, &management.AcknowledgeAlarm{AlarmId: id, Comment: "on it"})
		Expect(err).NotTo(HaveOccurred())
		Expect(*ack.Alarm.State).To(Equal(management.AlarmStateAcknowledged))
		Expect(ack.Alarm.AcknowledgedBy).To(Equal("admin"))
		_, err = mgr.AcknowledgeAlarm(ctx, &management.AcknowledgeAlarm{AlarmId: id})
		Expect(faultCode(err)).To(Equal("CONFLICT"))
		cl, err := mgr.ClearAlarm(ctx, &management.ClearAlarm{AlarmId: id})
		Expect(err).NotTo(HaveOccurred())
		Expect(*cl.Alarm.State).To(Equal(management.AlarmStateCleared))
		_, err = mgr.ClearAlarm(ctx, &management.ClearAlarm{AlarmId: "no-such-alarm"})
		Expect(faultCode(err)).To(Equal("NOT_FOUND"))
	})

	It("wakes a waiting poll when an instruction is queued, hands it out once, and stores the result", func() {
		_, err := dev.Heartbeat(ctx, heartbeat("ok")) // registers the device
		Expect(err).NotTo(HaveOccurred())
		type polled struct {
			resp *device.RequestInstructionsResponse
			err  error
			took time.Duration
		}
		done := make(chan polled, 1)
		go func() {
			start := time.Now()
			r, err := dev.RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}, WaitSeconds: 25})
			done <- polled{r, err, time.Since(start)}
		}()
		Eventually(func() string {
			return metric(s, "rms_longpolls_waiting")
		}).Should(Equal("1"))
		q, err := mgr.QueueInstruction(ctx, &management.QueueInstruction{DeviceId: "dev-0001", Type: "RunDiagnostic",
			Parameter: []*management.NameValue{{Name: "name", Value: "selftest"}}, RequestId: "req-1"})
		Expect(err).NotTo(HaveOccurred())
		var p polled
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(&p))
		Expect(p.err).NotTo(HaveOccurred())
		Expect(p.resp.Instruction).To(HaveLen(1))
		Expect(p.resp.Instruction[0].Id).To(Equal(q.Instruction.InstructionId))
		// Woken, not timed out: it came back well before its 25 s wait.
		Expect(p.took).To(BeNumerically("<", 12*time.Second))

		// The same request id queues nothing new.
		q2, err := mgr.QueueInstruction(ctx, &management.QueueInstruction{DeviceId: "dev-0001", Type: "RunDiagnostic", RequestId: "req-1"})
		Expect(err).NotTo(HaveOccurred())
		Expect(q2.Instruction.InstructionId).To(Equal(q.Instruction.InstructionId))
		r, err := dev.RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Instruction).To(BeEmpty())

		status := device.InstructionStatusSucceeded
		_, err = dev.ReportInstructionResult(ctx, &device.ReportInstructionResult{DeviceRequest: &device.DeviceRequest{},
			InstructionId: q.Instruction.InstructionId, Status: &status, Output: "all good", FinishedAt: now()})
		Expect(err).NotTo(HaveOccurred())
		got, err := mgr.GetInstruction(ctx, &management.GetInstruction{InstructionId: q.Instruction.InstructionId})
		Expect(err).NotTo(HaveOccurred())
		Expect(*got.Instruction.Status).To(Equal(management.InstructionStatusSucceeded))
		Expect(got.Instruction.Output).To(Equal("all good"))
	})

	It("does not deliver an expired instruction", func() {
		_, err := dev.Heartbeat(ctx, heartbeat("ok"))
		Expect(err).NotTo(HaveOccurred())
		q, err := mgr.QueueInstruction(ctx, &management.QueueInstruction{DeviceId: "dev-0001", Type: "RestartAgent", TtlSeconds: 1})
		Expect(err).NotTo(HaveOccurred())
		time.Sleep(1500 * time.Millisecond)
		r, err := dev.RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Instruction).To(BeEmpty())
		got, err := mgr.GetInstruction(ctx, &management.GetInstruction{InstructionId: q.Instruction.InstructionId})
		Expect(err).NotTo(HaveOccurred())
		Expect(*got.Instruction.Status).To(Equal(management.InstructionStatusExpired))
	})

	It("resumes an upload across a server restart, checks hashes, and serves the gzip content decompressed", func() {
		content := bytes.Repeat([]byte("2026-11-23 10:00:00 E-101 tube temperature high\n"), 4000)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(content)
		Expect(zw.Close()).To(Succeed())
		sent := gz.Bytes()
		sum := sha256.Sum256(sent)
		begin := func() *device.BeginUploadResponse {
			kind, comp := device.UploadKindLog, device.CompressionGzip
			r, err := dev.BeginUpload(ctx, &device.BeginUpload{DeviceRequest: &device.DeviceRequest{}, Name: "system.log",
				Kind: &kind, Size: int64(len(sent)), Sha256: hex.EncodeToString(sum[:]), Compression: &comp})
			Expect(err).NotTo(HaveOccurred())
			return r
		}
		b := begin()
		Expect(b.NextOffset).To(BeZero())
		half := len(sent) / 2
		_, err := dev.UploadChunk(ctx, soapclient.NewUploadChunk(b.UploadId, 0, sent[:half]))
		Expect(err).NotTo(HaveOccurred())
		// A chunk whose hash does not match its data.
		bad := soapclient.NewUploadChunk(b.UploadId, int64(half), sent[half:])
		bad.Sha256 = strings.Repeat("0", 64)
		_, err = dev.UploadChunk(ctx, bad)
		Expect(faultCode(err)).To(Equal("MALFORMED"))

		s.Stop()
		s.Restart()
		again := begin()
		Expect(again.UploadId).To(Equal(b.UploadId))
		Expect(again.NextOffset).To(BeEquivalentTo(half))
		_, err = dev.UploadChunk(ctx, soapclient.NewUploadChunk(b.UploadId, again.NextOffset, sent[half:]))
		Expect(err).NotTo(HaveOccurred())
		c, err := dev.CommitUpload(ctx, &device.CommitUpload{DeviceRequest: &device.DeviceRequest{}, UploadId: b.UploadId})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Sha256).To(Equal(hex.EncodeToString(sum[:])))

		var fetched []byte
		for off := int64(0); ; {
			f, err := mgr.FetchUpload(ctx, &management.FetchUpload{UploadId: b.UploadId, Offset: off, Length: 64 << 10})
			Expect(err).NotTo(HaveOccurred())
			data, err := soapclient.DecodeBase64Binary(f.Data)
			Expect(err).NotTo(HaveOccurred())
			fetched = append(fetched, data...)
			off += int64(len(data))
			if f.Eof {
				break
			}
		}
		Expect(fetched).To(Equal(content))
		list, err := mgr.ListUploads(ctx, &management.ListUploads{DeviceId: "dev-0001"})
		Expect(err).NotTo(HaveOccurred())
		Expect(list.Upload).To(HaveLen(1))
		Expect(*list.Upload[0].State).To(Equal(management.UploadStateCommitted))
	})

	It("stores forwarded agent audit events once", func() {
		ev := &device.ReportAuditEvents{DeviceRequest: &device.DeviceRequest{MessageId: uuid.NewString()}, Event: []*device.AuditEvent{
			{Sequence: 7, Time: now(), Actor: "agent", Action: "instruction.run", Detail: "RunDiagnostic selftest"}}}
		r, err := dev.ReportAuditEvents(ctx, ev)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.LastSequence).To(BeEquivalentTo(7))
		// A re-send signs again; within the same second it would be the
		// same signed bytes, which is a replay, so wait for a new timestamp.
		time.Sleep(1100 * time.Millisecond)
		_, err = dev.ReportAuditEvents(ctx, ev)
		Expect(err).NotTo(HaveOccurred())
		q, err := mgr.QueryAudit(ctx, &management.QueryAudit{Action: "agent.instruction.run"})
		Expect(err).NotTo(HaveOccurred())
		Expect(q.Record).To(HaveLen(1))
	})

	It("faults a wrong password", func() {
		m, err := soapclient.NewManagement(soapclient.ManagementConfig{
			Config:   soapclient.Config{URL: s.URL + "/soap/manage", RootCAs: testserver.CAPool()},
			Username: "admin", Password: "wrong-password-123"})
		Expect(err).NotTo(HaveOccurred())
		_, err = m.ListDevices(ctx, &management.ListDevices{})
		Expect(faultCode(err)).To(Equal("FORBIDDEN"))
	})
})

var _ = Describe("pre-registration", func() {
	It("refuses unknown devices when registration is required", func() {
		s := testserver.Start(bin, testserver.Options{Args: []string{"--require-registration"}})
		_, err := s.Device("dev-0001").Heartbeat(context.Background(), heartbeat("ok"))
		Expect(faultCode(err)).To(Equal("UNKNOWN_DEVICE"))
	})
})
