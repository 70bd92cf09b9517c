package soapapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/generated/device"
	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/soapapi"
	"github.com/rmsproject/rms/server/uploads"
	"github.com/rmsproject/rms/soapclient"
)

const nsDevice = "urn:rms:device:v1"

// faultCode is the detail code of a typed client's fault.
func faultCode(err error) string {
	var f *soapclient.Fault
	if errors.As(err, &f) {
		return f.Code
	}
	if err == nil {
		return ""
	}
	return "not a fault: " + err.Error()
}

func now() soapclient.DateTime { return soapclient.NewDateTime(time.Now()) }

func ptr[T any](v T) *T { return &v }

func heartbeat(state device.HealthState) *device.Heartbeat {
	return &device.Heartbeat{DeviceRequest: &device.DeviceRequest{}, State: &state}
}

// exact builds an envelope of exactly target bytes: build(n) must grow by
// one byte per unit of n (signatures and timestamps have fixed lengths).
func exact(target int, build func(n int) []byte) []byte {
	GinkgoHelper()
	n := 0
	for range 5 {
		b := build(n)
		if len(b) == target {
			return b
		}
		n += target - len(b)
		Expect(n).To(BeNumerically(">=", 0))
	}
	Fail(fmt.Sprintf("could not build an envelope of exactly %d bytes", target))
	return nil
}

var _ = Describe("the DeviceService endpoint in process", func() {
	var (
		h   *harness
		dev *soapclient.Device
		raw *http.Client
		ctx context.Context
		url string
	)
	quoted := func(op string) *string { return action(`"` + nsDevice + "/" + op + `"`) }
	register := func() {
		GinkgoHelper()
		_, err := dev.Heartbeat(ctx, heartbeat(device.HealthStateOk))
		Expect(err).NotTo(HaveOccurred())
	}
	sign := func(op string, req any) []byte {
		GinkgoHelper()
		b, err := dev.Sign(op, req)
		Expect(err).NotTo(HaveOccurred())
		return b
	}
	BeforeEach(func() {
		ctx = context.Background()
		h = startServer()
		dev = h.device("dev-0001")
		raw = testserver.DeviceClient("dev-0001")
		url = h.URL + "/soap/device"
	})

	Describe("the byte caps", func() {
		// A heartbeat padded by a property value, with fixed message id and
		// sentAt so only the padding changes its length.
		padded := func(n int) []byte {
			hb := heartbeat(device.HealthStateOk)
			hb.DeviceRequest = &device.DeviceRequest{MessageId: uuid.NewString(), SentAt: now()}
			hb.Property = []*device.NameValue{{Name: "pad", Value: strings.Repeat("x", n)}}
			return sign("Heartbeat", hb)
		}

		It("takes a status envelope of exactly MaxStatusBytes and refuses one byte more with 413, TOO_LARGE and Connection: close", func() {
			before := h.contents()
			e := post(raw, http.MethodPost, url, quoted("Heartbeat"), exact(soapapi.MaxStatusBytes+1, padded))
			Expect(e.Status).To(Equal(http.StatusRequestEntityTooLarge))
			Expect(e.Code()).To(Equal("TOO_LARGE"))
			Expect(e.Fault.Code).To(Equal("soap:Client"))
			Expect(e.Close).To(BeTrue(), "the rest of an oversized body is not worth reading")
			h.expectAudited("device:dev-0001", "device.Heartbeat", server.CodeTooLarge)
			Expect(h.contents()).To(Equal(before))

			e = post(raw, http.MethodPost, url, quoted("Heartbeat"), exact(soapapi.MaxStatusBytes, padded))
			Expect(e.Status).To(Equal(http.StatusOK), string(e.Body))
			Expect(h.contents().History).To(Equal(1))
		})

		Context("with an upload begun", func() {
			var (
				data     []byte
				uploadID string
			)
			// A chunk of the largest raw size, padded with line breaks
			// inside its base64 text (which base64 readers skip).
			chunk := func(n int) []byte {
				req := soapclient.NewUploadChunk(uploadID, 0, data)
				req.Data = append(req.Data, bytes.Repeat([]byte("\n"), n)...)
				req.DeviceRequest = &device.DeviceRequest{MessageId: uuid.NewString(), SentAt: now()}
				return sign("UploadChunk", req)
			}
			received := func() int64 {
				GinkgoHelper()
				up, err := h.store.GetUpload(ctx, uploadID)
				Expect(err).NotTo(HaveOccurred())
				return up.Received
			}
			BeforeEach(func() {
				data = bytes.Repeat([]byte("0123456789abcdef"), uploads.DefaultMaxChunk/16)
				sum := sha256.Sum256(data)
				b, err := dev.BeginUpload(ctx, &device.BeginUpload{DeviceRequest: &device.DeviceRequest{}, Name: "big.log",
					Kind: ptr(device.UploadKindLog), Size: int64(len(data)), Sha256: hex.EncodeToString(sum[:])})
				Expect(err).NotTo(HaveOccurred())
				Expect(b.MaxChunkBytes).To(BeEquivalentTo(uploads.DefaultMaxChunk))
				uploadID = b.UploadId
			})

			It("takes an UploadChunk envelope of exactly MaxBulkBytes and refuses one byte more", func() {
				e := post(raw, http.MethodPost, url, quoted("UploadChunk"), exact(soapapi.MaxBulkBytes+1, chunk))
				Expect(e.Status).To(Equal(http.StatusRequestEntityTooLarge))
				Expect(e.Code()).To(Equal("TOO_LARGE"))
				Expect(e.Close).To(BeTrue())
				h.expectAudited("device:dev-0001", "device.UploadChunk", server.CodeTooLarge)
				Expect(received()).To(BeZero())

				e = post(raw, http.MethodPost, url, action(nsDevice+"/UploadChunk"), exact(soapapi.MaxBulkBytes, chunk))
				Expect(e.Status).To(Equal(http.StatusOK), string(e.Body))
				Expect(received()).To(BeEquivalentTo(len(data)))
			})

			// The bulk cap is chosen before the body is read, so only the
			// header can choose it; without it the status cap applies.
			DescribeTable("holds a bulk envelope to the status cap without the UploadChunk SOAPAction",
				func(act *string, op string) {
					body := chunk(0)
					Expect(len(body)).To(BeNumerically(">", soapapi.MaxStatusBytes))
					e := post(raw, http.MethodPost, url, act, body)
					Expect(e.Status).To(Equal(http.StatusRequestEntityTooLarge))
					Expect(e.Code()).To(Equal("TOO_LARGE"))
					h.expectAudited("device:dev-0001", "device."+op, server.CodeTooLarge)
					Expect(received()).To(BeZero())
				},
				Entry("no SOAPAction", nil, "unknown"),
				Entry("an empty SOAPAction", action(""), "unknown"),
				Entry("an empty quoted SOAPAction", action(`""`), "unknown"),
				Entry("the Heartbeat SOAPAction", quoted("Heartbeat"), "Heartbeat"),
			)

			It("refuses a large Heartbeat sent under the UploadChunk SOAPAction", func() {
				before := h.contents()
				body := padded(soapapi.MaxStatusBytes)
				e := post(raw, http.MethodPost, url, quoted("UploadChunk"), body)
				Expect(e.Code()).To(Equal("MALFORMED"))
				Expect(h.lastAudit().Code).To(Equal(server.CodeMalformed))
				Expect(h.contents()).To(Equal(before))
			})
		})
	})

	Describe("the count caps", func() {
		BeforeEach(register)

		alarms := func(n int) *device.ReportAlarms {
			r := &device.ReportAlarms{DeviceRequest: &device.DeviceRequest{}}
			for i := range n {
				r.Alarm = append(r.Alarm, &device.Alarm{Code: fmt.Sprintf("E-%03d", i), Severity: ptr(device.SeverityMinor), RaisedAt: now()})
			}
			return r
		}
		events := func(n int) *device.ReportAuditEvents {
			r := &device.ReportAuditEvents{DeviceRequest: &device.DeviceRequest{}}
			for i := range n {
				r.Event = append(r.Event, &device.AuditEvent{Sequence: int64(i + 1), Time: now(), Action: "config.read"})
			}
			return r
		}

		It("takes MaxAlarmsPerMessage alarms and refuses one more", func() {
			before := h.contents()
			_, err := dev.ReportAlarms(ctx, alarms(soapapi.MaxAlarmsPerMessage+1))
			Expect(faultCode(err)).To(Equal("TOO_LARGE"))
			h.expectAudited("device:dev-0001", "device.ReportAlarms", server.CodeTooLarge)
			Expect(h.contents()).To(Equal(before))

			r, err := dev.ReportAlarms(ctx, alarms(soapapi.MaxAlarmsPerMessage))
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Accepted).To(BeEquivalentTo(soapapi.MaxAlarmsPerMessage))
			Expect(h.contents().Alarms).To(Equal(soapapi.MaxAlarmsPerMessage))
		})

		It("takes MaxEventsPerMessage audit events and refuses one more", func() {
			before := h.contents()
			_, err := dev.ReportAuditEvents(ctx, events(soapapi.MaxEventsPerMessage+1))
			Expect(faultCode(err)).To(Equal("TOO_LARGE"))
			h.expectAudited("device:dev-0001", "device.ReportAuditEvents", server.CodeTooLarge)
			Expect(h.contents()).To(Equal(before))

			r, err := dev.ReportAuditEvents(ctx, events(soapapi.MaxEventsPerMessage))
			Expect(err).NotTo(HaveOccurred())
			Expect(r.LastSequence).To(BeEquivalentTo(soapapi.MaxEventsPerMessage))
			Expect(h.contents().AgentEvents).To(Equal(soapapi.MaxEventsPerMessage))
		})

		It("keeps MaxResultOutput bytes of output and refuses one more", func() {
			in, err := h.store.QueueInstruction(ctx, server.NewInstruction{DeviceID: "dev-0001", Type: "RunDiagnostic"}, time.Now())
			Expect(err).NotTo(HaveOccurred())
			got, err := dev.RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}})
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Instruction).To(HaveLen(1))
			result := func(n int) *device.ReportInstructionResult {
				return &device.ReportInstructionResult{DeviceRequest: &device.DeviceRequest{}, InstructionId: in.ID,
					Status: ptr(device.InstructionStatusSucceeded), Output: strings.Repeat("o", n), FinishedAt: now()}
			}
			before := h.contents()
			_, err = dev.ReportInstructionResult(ctx, result(soapapi.MaxResultOutput+1))
			Expect(faultCode(err)).To(Equal("TOO_LARGE"))
			h.expectAudited("device:dev-0001", "device.ReportInstructionResult", server.CodeTooLarge)
			Expect(h.contents()).To(Equal(before))

			_, err = dev.ReportInstructionResult(ctx, result(soapapi.MaxResultOutput))
			Expect(err).NotTo(HaveOccurred())
			stored, err := h.store.GetInstruction(ctx, in.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(stored.Status).To(Equal(server.InstructionSucceeded))
			Expect(stored.Output).To(HaveLen(soapapi.MaxResultOutput))
		})
	})

	DescribeTable("accepts SOAPAction quoted, unquoted, empty or absent",
		func(act *string) {
			e := post(raw, http.MethodPost, url, act, sign("Heartbeat", heartbeat(device.HealthStateOk)))
			Expect(e.Status).To(Equal(http.StatusOK), string(e.Body))
			Expect(e.Code()).To(BeEmpty())
			Expect(h.contents().History).To(Equal(1))
			r := h.lastAudit()
			Expect(r.Action).To(Equal("device.Heartbeat"))
			Expect(r.Outcome).To(Equal(server.OutcomeSuccess))
		},
		Entry("quoted", action(`"`+nsDevice+`/Heartbeat"`)),
		Entry("unquoted", action(nsDevice+"/Heartbeat")),
		Entry("with spaces around", action(` "`+nsDevice+`/Heartbeat" `)),
		Entry("empty", action("")),
		Entry("empty quoted", action(`""`)),
		Entry("absent", nil),
	)

	Describe("refusals", func() {
		BeforeEach(register)

		// Each send returns the fault code it got; the spec checks that
		// the refusal was audited with that code and that nothing changed.
		DescribeTable("audit every refused request with its code and store nothing",
			func(send func() string, want server.Code, op string) {
				before := h.contents()
				Expect(send()).To(Equal(string(want)))
				r := h.lastAudit()
				Expect(r.Actor).To(Equal("device:dev-0001"))
				if op != "" {
					Expect(r.Action).To(Equal("device." + op))
				}
				Expect(r.Code).To(Equal(want))
				Expect(r.Outcome).To(Equal(server.OutcomeDenied))
				Expect(h.contents()).To(Equal(before))
			},
			Entry("a SOAPAction naming another operation", func() string {
				return post(raw, http.MethodPost, url, quoted("ReportAlarms"), sign("Heartbeat", heartbeat("ok"))).Code()
			}, server.CodeMalformed, ""),
			Entry("a SOAPAction naming no operation", func() string {
				return post(raw, http.MethodPost, url, quoted("Reboot"), sign("Heartbeat", heartbeat("ok"))).Code()
			}, server.CodeMalformed, ""),
			Entry("a SOAPAction in another namespace", func() string {
				return post(raw, http.MethodPost, url, action("urn:example:other/Heartbeat"), sign("Heartbeat", heartbeat("ok"))).Code()
			}, server.CodeMalformed, ""),
			Entry("an unknown body element", func() string {
				body := `<Reboot xmlns="` + nsDevice + `"><messageId>` + uuid.NewString() + `</messageId></Reboot>`
				return post(raw, http.MethodPost, url, nil, signRaw("dev-0001", []byte(body))).Code()
			}, server.CodeMalformed, "unknown"),
			Entry("a known element in another namespace", func() string {
				body := `<Heartbeat xmlns="urn:example:other"><messageId>` + uuid.NewString() + `</messageId><state>ok</state></Heartbeat>`
				return post(raw, http.MethodPost, url, nil, signRaw("dev-0001", []byte(body))).Code()
			}, server.CodeMalformed, ""),
			Entry("a messageId that is not a UUID", func() string {
				hb := heartbeat("ok")
				hb.DeviceRequest.MessageId = "message-1"
				_, err := dev.Heartbeat(ctx, hb)
				return faultCode(err)
			}, server.CodeMalformed, "Heartbeat"),
			Entry("a messageId with a UUID inside", func() string {
				hb := heartbeat("ok")
				hb.DeviceRequest.MessageId = "x" + uuid.NewString()
				_, err := dev.Heartbeat(ctx, hb)
				return faultCode(err)
			}, server.CodeMalformed, "Heartbeat"),
			Entry("a missing sentAt", func() string {
				body, err := xml.Marshal(&device.Heartbeat{DeviceRequest: &device.DeviceRequest{MessageId: uuid.NewString()},
					State: ptr(device.HealthStateOk)})
				Expect(err).NotTo(HaveOccurred())
				Expect(string(body)).NotTo(ContainSubstring("sentAt"))
				return post(raw, http.MethodPost, url, quoted("Heartbeat"), signRaw("dev-0001", body)).Code()
			}, server.CodeMalformed, "Heartbeat"),
			Entry("a sentAt that is not a dateTime", func() string {
				body := `<Heartbeat xmlns="` + nsDevice + `"><messageId>` + uuid.NewString() +
					`</messageId><sentAt>yesterday</sentAt><state>ok</state></Heartbeat>`
				return post(raw, http.MethodPost, url, quoted("Heartbeat"), signRaw("dev-0001", []byte(body))).Code()
			}, server.CodeMalformed, "Heartbeat"),
			Entry("an unknown state", func() string {
				_, err := dev.Heartbeat(ctx, heartbeat("on-fire"))
				return faultCode(err)
			}, server.CodeMalformed, "Heartbeat"),
			Entry("a state in the wrong case", func() string {
				_, err := dev.Heartbeat(ctx, heartbeat("OK"))
				return faultCode(err)
			}, server.CodeMalformed, "Heartbeat"),
			Entry("an unknown severity", func() string {
				_, err := dev.ReportAlarms(ctx, &device.ReportAlarms{DeviceRequest: &device.DeviceRequest{}, Alarm: []*device.Alarm{
					{Code: "E-1", Severity: ptr(device.Severity("catastrophic")), RaisedAt: now()}}})
				return faultCode(err)
			}, server.CodeMalformed, "ReportAlarms"),
			Entry("an alarm without raisedAt", func() string {
				_, err := dev.ReportAlarms(ctx, &device.ReportAlarms{DeviceRequest: &device.DeviceRequest{}, Alarm: []*device.Alarm{
					{Code: "E-1", Severity: ptr(device.SeverityMajor)}}})
				return faultCode(err)
			}, server.CodeMalformed, "ReportAlarms"),
			Entry("an unknown result status", func() string {
				_, err := dev.ReportInstructionResult(ctx, &device.ReportInstructionResult{DeviceRequest: &device.DeviceRequest{},
					InstructionId: uuid.NewString(), Status: ptr(device.InstructionStatus("done"))})
				return faultCode(err)
			}, server.CodeMalformed, "ReportInstructionResult"),
			Entry("an unknown audit outcome", func() string {
				_, err := dev.ReportAuditEvents(ctx, &device.ReportAuditEvents{DeviceRequest: &device.DeviceRequest{}, Event: []*device.AuditEvent{
					{Sequence: 1, Time: now(), Action: "login", Outcome: ptr(device.AuditOutcome("maybe"))}}})
				return faultCode(err)
			}, server.CodeMalformed, "ReportAuditEvents"),
			Entry("an unknown upload kind", func() string {
				_, err := dev.BeginUpload(ctx, &device.BeginUpload{DeviceRequest: &device.DeviceRequest{}, Name: "a.log",
					Kind: ptr(device.UploadKind("core")), Size: 1, Sha256: strings.Repeat("ab", 32)})
				return faultCode(err)
			}, server.CodeMalformed, "BeginUpload"),
			Entry("an unknown compression", func() string {
				_, err := dev.BeginUpload(ctx, &device.BeginUpload{DeviceRequest: &device.DeviceRequest{}, Name: "a.log",
					Compression: ptr(device.Compression("bzip2")), Size: 1, Sha256: strings.Repeat("ab", 32)})
				return faultCode(err)
			}, server.CodeMalformed, "BeginUpload"),
			Entry("a chunk for an upload that does not exist", func() string {
				_, err := dev.UploadChunk(ctx, soapclient.NewUploadChunk(uuid.NewString(), 0, []byte("data")))
				return faultCode(err)
			}, server.CodeNotFound, "UploadChunk"),
			Entry("a chunk whose data is not base64", func() string {
				req := soapclient.NewUploadChunk(uuid.NewString(), 0, []byte("data"))
				req.Data = []byte("not base64!")
				_, err := dev.UploadChunk(ctx, req)
				return faultCode(err)
			}, server.CodeMalformed, "UploadChunk"),
			Entry("a wait past 25 seconds", func() string {
				_, err := dev.RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}, WaitSeconds: 26})
				return faultCode(err)
			}, server.CodeMalformed, "RequestInstructions"),
			Entry("more than 100 instructions asked for", func() string {
				_, err := dev.RequestInstructions(ctx, &device.RequestInstructions{DeviceRequest: &device.DeviceRequest{}, MaxInstructions: 101})
				return faultCode(err)
			}, server.CodeMalformed, "RequestInstructions"),
		)
	})

	It("refuses a request without a client certificate, audits it and stores nothing", func() {
		before := h.contents()
		e := post(testserver.Client(), http.MethodPost, url, quoted("Heartbeat"), sign("Heartbeat", heartbeat("ok")))
		Expect(e.Status).To(Equal(http.StatusInternalServerError))
		Expect(e.Code()).To(Equal("FORBIDDEN"))
		Expect(e.Fault.Code).To(Equal("soap:Client"))
		h.expectAudited("device:unidentified", "device.unknown", server.CodeForbidden)
		Expect(h.contents()).To(Equal(before))
	})

	DescribeTable("answers anything but POST (and GET ?wsdl) with 405",
		func(method, path string) {
			e := post(raw, method, h.URL+path, nil, nil)
			Expect(e.Status).To(Equal(http.StatusMethodNotAllowed))
			Expect(e.Header.Get("Allow")).To(Equal("POST"))
		},
		Entry("GET on the device endpoint", http.MethodGet, "/soap/device"),
		Entry("PUT on the device endpoint", http.MethodPut, "/soap/device"),
		Entry("DELETE on the device endpoint", http.MethodDelete, "/soap/device"),
		Entry("PATCH on the device endpoint", http.MethodPatch, "/soap/device"),
		Entry("GET on the management endpoint", http.MethodGet, "/soap/manage"),
		Entry("PUT on the management endpoint", http.MethodPut, "/soap/manage"),
	)
})
