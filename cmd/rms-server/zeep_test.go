package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/fixtures/testenv"
	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/generated/management"
)

// zeepRun is what scripts/interop/zeep_client.py printed: one JSON result
// per operation, keyed by the op name it used.
type zeepRun map[string]json.RawMessage

func (r zeepRun) decode(op string, into any) {
	GinkgoHelper()
	raw, ok := r[op]
	Expect(ok).To(BeTrue(), "zeep_client.py printed no %s result", op)
	Expect(json.Unmarshal(raw, into)).To(Succeed(), op)
}

func (r zeepRun) faultCode(op string) string {
	GinkgoHelper()
	var f struct{ FaultCode string }
	r.decode(op, &f)
	return f.FaultCode
}

var _ = Describe("a WSDL-discovered client (python zeep)", Label("interop"), func() {
	// One spec on purpose: the script is a single third-party session
	// (device and operator taking turns), and what it leaves in the store is
	// checked afterwards from our own client.
	It("drives both services from the served WSDLs, and its effects land", func(ctx SpecContext) {
		python := testenv.RequirePython("zeep", "xmlsec")
		s := testserver.Start(bin, testserver.Options{})

		// The bound only keeps a hung script from holding the suite; it
		// asserts nothing about speed.
		runCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		pki := func(elem ...string) string { return fixtures.Path(append([]string{"pki"}, elem...)...) }
		cmd := exec.CommandContext(runCtx, python, fixtures.Path("..", "scripts", "interop", "zeep_client.py"),
			"--url", s.URL,
			"--ca", pki("ca.crt"),
			"--device-cert", pki("devices", "dev-0002.crt"),
			"--device-key", pki("devices", "dev-0002.key"),
			"--server-cert", pki("server.crt"),
			"--user", "admin", "--password", testserver.AdminPassword)
		var stdout, stderr bytes.Buffer
		cmd.Stdout = io.MultiWriter(&stdout, GinkgoWriter)
		cmd.Stderr = io.MultiWriter(&stderr, GinkgoWriter)
		Expect(cmd.Run()).To(Succeed(), "zeep_client.py failed:\n%s", stderr.String())

		run := zeepRun{}
		sc := bufio.NewScanner(&stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line struct {
				Op     string
				Result json.RawMessage
			}
			Expect(json.Unmarshal(sc.Bytes(), &line)).To(Succeed(), sc.Text())
			run[line.Op] = line.Result
		}
		Expect(sc.Err()).NotTo(HaveOccurred())

		By("zeep saw the refusals a third party must be able to read as typed faults")
		Expect(run.faultCode("WrongPassword")).To(Equal("FORBIDDEN"))
		// zeep's own defaults (RSA-SHA1, no Timestamp) are refused, not
		// tolerated; the script then signs with SHA-256 and a Timestamp.
		Expect(run.faultCode("ZeepDefaultAlgorithms")).To(Equal("BAD_SIGNATURE"))
		Expect(run.faultCode("ZeepWithoutTimestamp")).To(Equal("BAD_SIGNATURE"))
		Expect(run.faultCode("HeartbeatForAnother")).To(Equal("FORBIDDEN"))

		By("zeep verified the server's signed answers, and its check can fail")
		var summary struct{ DeviceResponsesVerified int }
		run.decode("Summary", &summary)
		Expect(summary.DeviceResponsesVerified).To(BeNumerically(">", 0))
		Expect(run).To(HaveKey("TamperedResponseRefused"))

		mgr := s.Manager()
		By("the heartbeat's state, metric and property")
		dev, err := mgr.GetDevice(ctx, &management.GetDevice{DeviceId: "dev-0002"})
		Expect(err).NotTo(HaveOccurred())
		Expect(*dev.Device.Summary.State).To(Equal(management.HealthStateWarning))
		Expect(dev.Device.Metric).To(ConsistOf(&management.Metric{Name: "temp", Value: 41.5, Unit: "C"}))
		Expect(dev.Device.Property).To(ContainElement(&management.NameValue{Name: "firmware", Value: "zeep-4.2"}))

		By("the alarm, acknowledged and cleared by admin")
		alarms, err := mgr.ListAlarms(ctx, &management.ListAlarms{DeviceId: "dev-0002"})
		Expect(err).NotTo(HaveOccurred())
		Expect(alarms.Alarm).To(HaveLen(1))
		a := alarms.Alarm[0]
		Expect(a.Code).To(Equal("ZEEP-101"))
		Expect(*a.Severity).To(Equal(management.SeverityMajor))
		Expect(*a.State).To(Equal(management.AlarmStateCleared))
		Expect(a.AcknowledgedBy).To(Equal("admin"))
		Expect(a.ClearedBy).To(Equal("admin"))
		Expect(a.Context).To(ContainElement(&management.NameValue{Name: "sensor", Value: "t1"}))

		By("the instruction queued through zeep, delivered to zeep's device, with its result")
		var queued struct{ InstructionId string }
		run.decode("QueueInstruction", &queued)
		Expect(queued.InstructionId).NotTo(BeEmpty())
		var polled struct{ Instruction []struct{ Id, Type string } }
		run.decode("RequestInstructions", &polled)
		Expect(polled.Instruction).To(ContainElement(HaveField("Id", queued.InstructionId)))
		got, err := mgr.GetInstruction(ctx, &management.GetInstruction{InstructionId: queued.InstructionId})
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Instruction.DeviceId).To(Equal("dev-0002"))
		Expect(got.Instruction.Type).To(Equal("RunDiagnostic"))
		Expect(got.Instruction.CreatedBy).To(Equal("admin"))
		Expect(*got.Instruction.Status).To(Equal(management.InstructionStatusSucceeded))
		Expect(got.Instruction.Output).To(Equal("selftest passed (zeep)"))

		By("the upload zeep sent in one chunk")
		ups, err := mgr.ListUploads(ctx, &management.ListUploads{DeviceId: "dev-0002"})
		Expect(err).NotTo(HaveOccurred())
		Expect(ups.Upload).To(HaveLen(1))
		Expect(ups.Upload[0].Name).To(Equal("zeep.log"))
		Expect(*ups.Upload[0].State).To(Equal(management.UploadStateCommitted))
		Expect(ups.Upload[0].Size).To(BeEquivalentTo(980))

		By("the audit trail names both sides, including the refused password")
		denied, err := mgr.QueryAudit(ctx, &management.QueryAudit{Actor: "user:admin", Action: "manage.ListDevices"})
		Expect(err).NotTo(HaveOccurred())
		Expect(denied.Record).To(ContainElement(HaveField("Outcome", HaveValue(Equal(management.AuditOutcomeDenied)))))
		beats, err := mgr.QueryAudit(ctx, &management.QueryAudit{Actor: "device:dev-0002", Action: "device.Heartbeat"})
		Expect(err).NotTo(HaveOccurred())
		Expect(beats.Record).To(ContainElement(HaveField("Outcome", HaveValue(Equal(management.AuditOutcomeSuccess)))))
	})
})
