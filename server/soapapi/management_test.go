package soapapi_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/generated/device"
	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/soapapi"
	"github.com/rmsproject/rms/soapclient"
	"github.com/rmsproject/rms/wssec"
)

const nsManagement = "urn:rms:management:v1"

var _ = Describe("the ManagementService endpoint in process", func() {
	var (
		h   *harness
		mgr *soapclient.Management
		ctx context.Context
		url string
	)
	// envelope is a management request as a WSDL client sends it.
	envelope := func(req any, user, password string) []byte {
		GinkgoHelper()
		body, err := xml.Marshal(req)
		Expect(err).NotTo(HaveOccurred())
		env, err := wssec.UsernameEnvelope(body, user, password)
		Expect(err).NotTo(HaveOccurred())
		return env
	}
	asAdmin := func(req any) []byte {
		GinkgoHelper()
		return envelope(req, "admin", testserver.AdminPassword)
	}
	BeforeEach(func() {
		ctx = context.Background()
		h = startServer()
		mgr = h.manager()
		url = h.URL + "/soap/manage"
	})

	It("takes a request of exactly the management cap and refuses one byte more with 413, TOO_LARGE and Connection: close", func() {
		padded := func(n int) []byte {
			return asAdmin(&management.ListDevices{Search: strings.Repeat("x", n)})
		}
		e := post(testserver.Client(), http.MethodPost, url, action(nsManagement+"/ListDevices"), exact(soapapi.DefaultManagementSize+1, padded))
		Expect(e.Status).To(Equal(http.StatusRequestEntityTooLarge))
		Expect(e.Code()).To(Equal("TOO_LARGE"))
		Expect(e.Close).To(BeTrue())
		h.expectAudited("user:unauthenticated", "manage.unknown", server.CodeTooLarge)

		e = post(testserver.Client(), http.MethodPost, url, action(nsManagement+"/ListDevices"), exact(soapapi.DefaultManagementSize, padded))
		Expect(e.Status).To(Equal(http.StatusOK), string(e.Body))
		r := h.lastAudit()
		Expect(r.Action).To(Equal("manage.ListDevices"))
		Expect(r.Outcome).To(Equal(server.OutcomeSuccess))
	})

	Context("with an alarm raised", func() {
		var alarmID string
		BeforeEach(func() {
			_, err := h.device("dev-0001").ReportAlarms(ctx, &device.ReportAlarms{DeviceRequest: &device.DeviceRequest{},
				Alarm: []*device.Alarm{{Code: "E-101", Severity: ptr(device.SeverityCritical), RaisedAt: now()}}})
			Expect(err).NotTo(HaveOccurred())
			list, err := mgr.ListAlarms(ctx, &management.ListAlarms{})
			Expect(err).NotTo(HaveOccurred())
			Expect(list.Alarm).To(HaveLen(1))
			alarmID = list.Alarm[0].AlarmId
		})
		state := func() server.AlarmState {
			GinkgoHelper()
			al, err := h.store.GetAlarm(ctx, alarmID)
			Expect(err).NotTo(HaveOccurred())
			return al.State
		}

		It("takes a comment of MaxComment bytes and refuses one more, on acknowledge and on clear", func() {
			_, err := mgr.AcknowledgeAlarm(ctx, &management.AcknowledgeAlarm{AlarmId: alarmID, Comment: strings.Repeat("c", soapapi.MaxComment+1)})
			Expect(faultCode(err)).To(Equal("TOO_LARGE"))
			h.expectAudited("user:admin", "manage.AcknowledgeAlarm", server.CodeTooLarge)
			Expect(state()).To(Equal(server.AlarmActive))

			_, err = mgr.ClearAlarm(ctx, &management.ClearAlarm{AlarmId: alarmID, Comment: strings.Repeat("c", soapapi.MaxComment+1)})
			Expect(faultCode(err)).To(Equal("TOO_LARGE"))
			h.expectAudited("user:admin", "manage.ClearAlarm", server.CodeTooLarge)
			Expect(state()).To(Equal(server.AlarmActive))

			ack, err := mgr.AcknowledgeAlarm(ctx, &management.AcknowledgeAlarm{AlarmId: alarmID, Comment: strings.Repeat("c", soapapi.MaxComment)})
			Expect(err).NotTo(HaveOccurred())
			Expect(ack.Alarm.Comment).To(HaveLen(soapapi.MaxComment))
			Expect(state()).To(Equal(server.AlarmAcknowledged))
		})
	})

	Describe("QueueInstruction", func() {
		BeforeEach(func() {
			_, err := h.device("dev-0001").Heartbeat(ctx, heartbeat(device.HealthStateOk))
			Expect(err).NotTo(HaveOccurred())
		})
		params := func(n, size int) []*management.NameValue {
			out := make([]*management.NameValue, n)
			for i := range out {
				name := fmt.Sprintf("p%02d", i)
				out[i] = &management.NameValue{Name: name, Value: strings.Repeat("v", size-len(name))}
			}
			return out
		}
		queued := func() int {
			GinkgoHelper()
			list, _, err := h.store.ListInstructions(ctx, server.InstructionFilter{}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			return len(list)
		}

		DescribeTable("bounds parameters, type and time to live",
			func(req *management.QueueInstruction, want server.Code) {
				req.DeviceId = "dev-0001"
				if req.Type == "" {
					req.Type = "RunDiagnostic"
				}
				got, err := mgr.QueueInstruction(ctx, req)
				if want == "" {
					Expect(err).NotTo(HaveOccurred())
					Expect(got.Instruction.Parameter).To(HaveLen(len(req.Parameter)))
					Expect(queued()).To(Equal(1))
					return
				}
				Expect(faultCode(err)).To(Equal(string(want)))
				h.expectAudited("user:admin", "manage.QueueInstruction", want)
				Expect(queued()).To(BeZero())
			},
			Entry("MaxInstructionParameters parameters", &management.QueueInstruction{Parameter: params(soapapi.MaxInstructionParameters, 8)}, server.Code("")),
			Entry("one parameter more", &management.QueueInstruction{Parameter: params(soapapi.MaxInstructionParameters+1, 8)}, server.CodeTooLarge),
			Entry("a parameter of MaxParameterBytes", &management.QueueInstruction{Parameter: params(1, soapapi.MaxParameterBytes)}, server.Code("")),
			Entry("a parameter one byte longer", &management.QueueInstruction{Parameter: params(1, soapapi.MaxParameterBytes+1)}, server.CodeMalformed),
			Entry("a parameter without a name", &management.QueueInstruction{Parameter: []*management.NameValue{{Value: "v"}}}, server.CodeMalformed),
			Entry("a type of 64 characters", &management.QueueInstruction{Type: strings.Repeat("T", 64)}, server.Code("")),
			Entry("a type of 65 characters", &management.QueueInstruction{Type: strings.Repeat("T", 65)}, server.CodeMalformed),
			Entry("the longest time to live", &management.QueueInstruction{TtlSeconds: int32(server.MaxInstructionTTL.Seconds())}, server.Code("")),
			Entry("a second longer", &management.QueueInstruction{TtlSeconds: int32(server.MaxInstructionTTL.Seconds()) + 1}, server.CodeMalformed),
			Entry("a negative time to live", &management.QueueInstruction{TtlSeconds: -1}, server.CodeMalformed),
		)
	})

	DescribeTable("accepts SOAPAction quoted, unquoted, empty or absent, and refuses one naming another operation",
		func(act *string, want string) {
			e := post(testserver.Client(), http.MethodPost, url, act, asAdmin(&management.ListDevices{}))
			Expect(e.Code()).To(Equal(want), string(e.Body))
			r := h.lastAudit()
			Expect(r.Actor).To(Equal("user:admin"))
			Expect(r.Action).To(Equal("manage.ListDevices"))
			Expect(string(r.Code)).To(Equal(want))
		},
		Entry("quoted", action(`"`+nsManagement+`/ListDevices"`), ""),
		Entry("unquoted", action(nsManagement+"/ListDevices"), ""),
		Entry("empty", action(""), ""),
		Entry("absent", nil, ""),
		Entry("another operation", action(nsManagement+"/QueueInstruction"), "MALFORMED"),
		Entry("a device operation", action(nsDevice+"/Heartbeat"), "MALFORMED"),
	)

	It("refuses an unknown body element after authenticating", func() {
		body := []byte(`<DropAllTables xmlns="` + nsManagement + `"/>`)
		env, err := wssec.UsernameEnvelope(body, "admin", testserver.AdminPassword)
		Expect(err).NotTo(HaveOccurred())
		e := post(testserver.Client(), http.MethodPost, url, nil, env)
		Expect(e.Code()).To(Equal("MALFORMED"))
		h.expectAudited("user:admin", "manage.unknown", server.CodeMalformed)
	})

	It("answers an unknown user and a wrong password alike, and audits both", func() {
		unknown := post(testserver.Client(), http.MethodPost, url, nil, envelope(&management.ListDevices{}, "mallory", testserver.AdminPassword))
		h.expectAudited("user:mallory", "manage.ListDevices", server.CodeForbidden)
		wrong := post(testserver.Client(), http.MethodPost, url, nil, envelope(&management.ListDevices{}, "admin", "not the password"))
		h.expectAudited("user:admin", "manage.ListDevices", server.CodeForbidden)
		Expect(unknown.Code()).To(Equal("FORBIDDEN"))
		Expect(unknown.Status).To(Equal(wrong.Status))
		Expect(unknown.Fault).To(Equal(wrong.Fault))
	})

	It("refuses a request without credentials", func() {
		body, err := xml.Marshal(&management.ListDevices{})
		Expect(err).NotTo(HaveOccurred())
		env := []byte(`<soap:Envelope xmlns:soap="` + wssec.NSSoap11 + `"><soap:Body>` + string(body) + `</soap:Body></soap:Envelope>`)
		e := post(testserver.Client(), http.MethodPost, url, nil, env)
		Expect(e.Code()).To(Equal("FORBIDDEN"))
		h.expectAudited("user:unauthenticated", "manage.unknown", server.CodeForbidden)
	})
})
