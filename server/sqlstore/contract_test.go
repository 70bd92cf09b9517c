package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/sqlstore"
)

// backend is one engine the contract runs against.
type backend struct {
	name string
	// shared is a database a spec may use (other specs' rows may be there,
	// so specs use fresh ids); fresh is an empty one.
	shared, fresh func() string
	// crossProcessWake: a queue on one Store wakes a watcher on another.
	crossProcessWake bool
}

var _ = Describe("SQLite store", func() {
	contract(backend{name: "sqlite", shared: freshSQLite, fresh: freshSQLite})
})

var _ = Describe("PostgreSQL store", Label("postgres"), func() {
	contract(backend{name: "postgres", shared: pgURL, fresh: freshPG, crossProcessWake: true})
})

func contract(b backend) {
	var (
		ctx context.Context
		url string
		st  *sqlstore.Store
		now time.Time
		dev string
		n   int
	)

	// ref returns a new message reference from dev.
	ref := func(device string) server.MessageRef {
		n++
		return server.MessageRef{DeviceID: device, MessageID: uuid.NewString(), SentAt: now.Add(time.Duration(n) * time.Second)}
	}
	register := func(s *sqlstore.Store, d server.Device) {
		GinkgoHelper()
		Expect(s.RegisterDevice(ctx, d, now)).To(Succeed())
	}

	BeforeEach(func() {
		ctx = context.Background()
		url = b.shared()
		st = openStore(url)
		now = time.Now().UTC().Truncate(time.Microsecond)
		dev = id("dev")
		register(st, server.Device{ID: dev, DisplayName: "Scanner " + dev, Customer: "acme", Site: "north"})
	})

	Describe("Open, migrations and Ping", func() {
		It("names its dialect and is fully migrated", func() {
			Expect(st.Dialect()).To(Equal(b.name))
			Expect(st.Ping(ctx)).To(Succeed())
		})

		It("migrates an empty database once, even when several stores open it together", func() {
			u := b.fresh()
			var wg sync.WaitGroup
			migrated := make([][]string, 4)
			for i := range migrated {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					s, err := sqlstore.Open(ctx, sqlstore.Config{URL: u})
					Expect(err).NotTo(HaveOccurred())
					migrated[i] = s.Migrated()
					Expect(s.Close()).To(Succeed())
				}()
			}
			wg.Wait()
			total := 0
			for _, m := range migrated {
				total += len(m)
			}
			Expect(total).To(Equal(1))
			again := openStore(u)
			Expect(again.Migrated()).To(BeEmpty())
			Expect(again.Ping(ctx)).To(Succeed())
		})

		It("reports the migrations it applied", func() {
			s := openStore(b.fresh())
			Expect(s.Migrated()).To(Equal([]string{"0001_init"}))
		})

		DescribeTable("refuses a bad configuration",
			func(cfg sqlstore.Config) {
				_, err := sqlstore.Open(ctx, cfg)
				Expect(codeOf(err)).To(Equal(server.CodeMalformed))
			},
			Entry("empty URL", sqlstore.Config{}),
			Entry("unknown scheme", sqlstore.Config{URL: "mysql://localhost/rms"}),
			Entry("bare path", sqlstore.Config{URL: "./rms.db"}),
			Entry("negative retention", sqlstore.Config{URL: "sqlite:x.db", MessageRetention: -time.Second}),
			Entry("negative pool", sqlstore.Config{URL: "sqlite:x.db", MaxOpenConns: -1}),
		)

		It("fails with UNAVAILABLE and a generic message once closed", func() {
			s, err := sqlstore.Open(ctx, sqlstore.Config{URL: url})
			Expect(err).NotTo(HaveOccurred())
			Expect(s.Close()).To(Succeed())
			err = s.Ping(ctx)
			Expect(codeOf(err)).To(Equal(server.CodeUnavailable))
			Expect(server.MessageOf(err)).To(Equal("the store is unavailable"))
			_, err = s.GetDevice(ctx, dev)
			Expect(codeOf(err)).To(Equal(server.CodeUnavailable))
			Expect(err).To(BeAssignableToTypeOf(&server.Error{}))
		})
	})

	Describe("devices", func() {
		It("registers and reads back a device", func() {
			d := server.Device{ID: id("dev"), DisplayName: "CT 1", Customer: "c", Site: "s", Model: "m", GatewayID: "g",
				AgentVersion: "1.2", CertSubject: "CN=x", CertSerial: "AB01", CertExpiresAt: now.Add(time.Hour), HeartbeatInterval: 30}
			register(st, d)
			got, err := st.GetDevice(ctx, d.ID)
			Expect(err).NotTo(HaveOccurred())
			d.CertSerial = "ab01"
			d.CreatedAt = now
			Expect(*got).To(Equal(d))
		})

		It("refuses a second registration and an empty id", func() {
			Expect(codeOf(st.RegisterDevice(ctx, server.Device{ID: dev}, now))).To(Equal(server.CodeConflict))
			Expect(codeOf(st.RegisterDevice(ctx, server.Device{}, now))).To(Equal(server.CodeMalformed))
		})

		It("answers NOT_FOUND for an unknown device", func() {
			_, err := st.GetDevice(ctx, "nobody")
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))
		})

		It("admits: registers on first contact, records certificate changes, refuses revoked serials", func() {
			ident := server.Identity{DeviceID: id("dev"), CertSubject: "CN=a", CertSerial: "0a", CertExpiresAt: now.Add(time.Hour)}
			_, err := st.AdmitDevice(ctx, ident, false, now)
			Expect(codeOf(err)).To(Equal(server.CodeUnknownDevice))

			d, err := st.AdmitDevice(ctx, ident, true, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.ID).To(Equal(ident.DeviceID))
			Expect(d.CertSerial).To(Equal("0a"))
			Expect(d.CreatedAt).To(Equal(now))

			d, err = st.AdmitDevice(ctx, ident, false, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.CertSubject).To(Equal("CN=a"))

			ident.CertSerial, ident.CertSubject, ident.CertExpiresAt = "0b", "CN=b", now.Add(48*time.Hour)
			d, err = st.AdmitDevice(ctx, ident, false, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.CertSerial).To(Equal("0b"))
			Expect(d.CertSubject).To(Equal("CN=b"))
			Expect(d.CertExpiresAt).To(Equal(now.Add(48 * time.Hour)))

			Expect(st.RevokeCertificate(ctx, "0B", "key leaked", now)).To(Succeed())
			Expect(st.RevokeCertificate(ctx, "0b", "again", now)).To(Succeed())
			_, err = st.AdmitDevice(ctx, ident, true, now)
			Expect(codeOf(err)).To(Equal(server.CodeForbidden))
			Expect(codeOf(st.RevokeCertificate(ctx, " ", "", now))).To(Equal(server.CodeMalformed))
		})

		It("admits the same new device from many goroutines at once", func() {
			ident := server.Identity{DeviceID: id("dev"), CertSerial: "01"}
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					_, err := st.AdmitDevice(ctx, ident, true, now)
					Expect(err).NotTo(HaveOccurred())
				}()
			}
			wg.Wait()
		})

		It("lists with filters and pages through with tokens", func() {
			cust := id("cust")
			for i := range 7 {
				register(st, server.Device{ID: fmt.Sprintf("%s-%02d", cust, i), Customer: cust, Site: []string{"a", "b"}[i%2],
					DisplayName: fmt.Sprintf("Lab Analyser %d", i)})
			}
			var all []string
			token := ""
			pages := 0
			for {
				list, next, err := st.ListDevices(ctx, server.DeviceFilter{Customer: cust}, server.Page{Limit: 3, Token: token})
				Expect(err).NotTo(HaveOccurred())
				pages++
				for _, d := range list {
					all = append(all, d.ID)
				}
				if next == "" {
					break
				}
				token = next
			}
			Expect(pages).To(Equal(3))
			Expect(all).To(HaveLen(7))
			Expect(all[0]).To(Equal(cust + "-00"))
			Expect(all[6]).To(Equal(cust + "-06"))

			list, _, err := st.ListDevices(ctx, server.DeviceFilter{Customer: cust, Site: "a"}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(list).To(HaveLen(4))

			list, _, err = st.ListDevices(ctx, server.DeviceFilter{Customer: cust, Search: "analyser 3"}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(list).To(HaveLen(1))
			Expect(list[0].ID).To(Equal(cust + "-03"))

			list, _, err = st.ListDevices(ctx, server.DeviceFilter{Search: strings.ToUpper(cust) + "-0"}, server.Page{Limit: 1000})
			Expect(err).NotTo(HaveOccurred())
			Expect(list).To(HaveLen(7))

			list, _, err = st.ListDevices(ctx, server.DeviceFilter{Customer: cust, Search: "%"}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(list).To(BeEmpty())
		})

		DescribeTable("refuses bad pages",
			func(p server.Page) {
				_, _, err := st.ListDevices(ctx, server.DeviceFilter{}, p)
				Expect(codeOf(err)).To(Equal(server.CodeMalformed))
				_, _, err = st.ListAlarms(ctx, server.AlarmFilter{}, p)
				Expect(codeOf(err)).To(Equal(server.CodeMalformed))
				_, _, err = st.ListInstructions(ctx, server.InstructionFilter{}, p)
				Expect(codeOf(err)).To(Equal(server.CodeMalformed))
				_, _, err = st.ListUploads(ctx, server.UploadFilter{}, p)
				Expect(codeOf(err)).To(Equal(server.CodeMalformed))
				_, _, err = st.QueryAudit(ctx, server.AuditFilter{}, p)
				Expect(codeOf(err)).To(Equal(server.CodeMalformed))
				_, _, err = st.DeviceHistory(ctx, server.HistoryFilter{DeviceID: dev}, p)
				Expect(codeOf(err)).To(Equal(server.CodeMalformed))
			},
			Entry("garbage token", server.Page{Token: "not a token!"}),
			Entry("base64 of garbage", server.Page{Token: "bm9wZQ"}),
			Entry("empty cursor", server.Page{Token: "e30"}),
			Entry("negative limit", server.Page{Limit: -1}),
		)
	})

	Describe("heartbeats", func() {
		hb := func(device string, at time.Time, state server.HealthState, props ...server.Attr) server.Heartbeat {
			r := ref(device)
			r.SentAt = at
			return server.Heartbeat{MessageRef: r, ReceivedAt: at.Add(time.Millisecond), State: state,
				Metrics: []server.Metric{{Name: "temp", Value: float64(at.Second()), Unit: "C"}}, Properties: props}
		}

		It("updates status, merges properties, appends history and acks with interval and pending work", func() {
			other := id("dev")
			register(st, server.Device{ID: other, HeartbeatInterval: 15})
			_, err := st.QueueInstruction(ctx, server.NewInstruction{DeviceID: other, Type: "reboot"}, now)
			Expect(err).NotTo(HaveOccurred())

			h1 := hb(dev, now, server.StateOK, server.Attr{Name: "fw", Value: "1"}, server.Attr{Name: "mode", Value: "a"})
			h2 := hb(other, now, server.StateWarning)
			acks, err := st.WriteHeartbeats(ctx, []server.Heartbeat{h1, h2})
			Expect(err).NotTo(HaveOccurred())
			Expect(acks).To(Equal([]server.HeartbeatAck{
				{}, // no interval set: the device keeps its own
				{IntervalSeconds: 15, InstructionsPending: true},
			}))

			h3 := hb(dev, now.Add(time.Minute), server.StateError, server.Attr{Name: "fw", Value: "2"}, server.Attr{Name: "x", Value: "y"})
			_, err = st.WriteHeartbeats(ctx, []server.Heartbeat{h3})
			Expect(err).NotTo(HaveOccurred())

			d, err := st.GetDevice(ctx, dev)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.State).To(Equal(server.StateError))
			Expect(d.LastSeen).To(Equal(now.Add(time.Minute)))
			Expect(d.Metrics).To(Equal(h3.Metrics))
			Expect(d.Properties).To(Equal([]server.Attr{{Name: "fw", Value: "2"}, {Name: "mode", Value: "a"}, {Name: "x", Value: "y"}}))

			hist, next, err := st.DeviceHistory(ctx, server.HistoryFilter{DeviceID: dev}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(next).To(BeEmpty())
			Expect(hist).To(Equal([]server.HistoryEntry{
				{Time: now, State: server.StateOK, Metrics: h1.Metrics, Properties: h1.Properties},
				{Time: now.Add(time.Minute), State: server.StateError, Metrics: h3.Metrics, Properties: h3.Properties},
			}))
		})

		It("skips duplicates, within a batch and across batches, writing nothing for them", func() {
			h1 := hb(dev, now, server.StateOK)
			h2 := hb(dev, now.Add(time.Second), server.StateOK)
			acks, err := st.WriteHeartbeats(ctx, []server.Heartbeat{h1, h1, h2})
			Expect(err).NotTo(HaveOccurred())
			Expect([]bool{acks[0].Duplicate, acks[1].Duplicate, acks[2].Duplicate}).To(Equal([]bool{false, true, false}))
			acks, err = st.WriteHeartbeats(ctx, []server.Heartbeat{h2, h1})
			Expect(err).NotTo(HaveOccurred())
			Expect(acks[0].Duplicate && acks[1].Duplicate).To(BeTrue())
			Expect(acks[0].IntervalSeconds).To(BeZero())
			hist, _, err := st.DeviceHistory(ctx, server.HistoryFilter{DeviceID: dev}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(hist).To(HaveLen(2))
		})

		It("refuses a heartbeat whose replay key was recorded, by RecordReplays or an earlier heartbeat", func() {
			until := now.Add(time.Hour)
			h1 := hb(dev, now, server.StateOK)
			h1.Replay = server.ReplayRecord{Key: id("replay"), Until: until}
			h2 := hb(dev, now.Add(time.Second), server.StateOK)
			h2.Replay = server.ReplayRecord{Key: id("replay"), Until: until}
			seen, err := st.RecordReplays(ctx, []server.ReplayRecord{h2.Replay})
			Expect(err).NotTo(HaveOccurred())
			Expect(seen).To(Equal([]bool{false}))
			h3 := h1
			h3.MessageID = id("msg") // a re-send of h1's signed bytes under any id is still a replay
			acks, err := st.WriteHeartbeats(ctx, []server.Heartbeat{h1, h2, h3})
			Expect(err).NotTo(HaveOccurred())
			Expect([]bool{acks[0].Replayed, acks[1].Replayed, acks[2].Replayed}).To(Equal([]bool{false, true, true}))
			seen, err = st.RecordReplays(ctx, []server.ReplayRecord{h1.Replay})
			Expect(err).NotTo(HaveOccurred())
			Expect(seen).To(Equal([]bool{true}))
			hist, _, err := st.DeviceHistory(ctx, server.HistoryFilter{DeviceID: dev}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(hist).To(HaveLen(1))
		})

		It("applies each heartbeat once when batches race", func() {
			var batch []server.Heartbeat
			for i := range 40 {
				batch = append(batch, hb(dev, now.Add(time.Duration(i)*time.Second), server.StateOK,
					server.Attr{Name: fmt.Sprintf("p%d", i), Value: "v"}))
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			fresh := 0
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					// every writer sends the same heartbeats, in a rotated order
					mine := append(append([]server.Heartbeat(nil), batch[w*10:]...), batch[:w*10]...)
					acks, err := st.WriteHeartbeats(ctx, mine)
					Expect(err).NotTo(HaveOccurred())
					mu.Lock()
					defer mu.Unlock()
					for _, a := range acks {
						if !a.Duplicate {
							fresh++
						}
					}
				}()
			}
			wg.Wait()
			Expect(fresh).To(Equal(40))
			hist, _, err := st.DeviceHistory(ctx, server.HistoryFilter{DeviceID: dev}, server.Page{Limit: 100})
			Expect(err).NotTo(HaveOccurred())
			Expect(hist).To(HaveLen(40))
			d, err := st.GetDevice(ctx, dev)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.Properties).To(HaveLen(40))
		})

		It("keeps a metric's unit in the device's latest metrics when later heartbeats leave it out", func() {
			first := hb(dev, now, server.StateOK)
			second := hb(dev, now.Add(time.Minute), server.StateOK)
			second.Metrics = []server.Metric{{Name: "temp", Value: 22}, {Name: "new", Value: 1}}
			_, err := st.WriteHeartbeats(ctx, []server.Heartbeat{first})
			Expect(err).NotTo(HaveOccurred())
			_, err = st.WriteHeartbeats(ctx, []server.Heartbeat{second})
			Expect(err).NotTo(HaveOccurred())
			d, err := st.GetDevice(ctx, dev)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.Metrics).To(Equal([]server.Metric{{Name: "temp", Value: 22, Unit: "C"}, {Name: "new", Value: 1}}))
		})

		It("keeps at most MaxDeviceProperties, dropping the longest-standing names", func() {
			var props []server.Attr
			for i := range sqlstore.MaxDeviceProperties + 3 {
				props = append(props, server.Attr{Name: fmt.Sprintf("p%04d", i), Value: "v"})
			}
			first := hb(dev, now, server.StateOK, props[:sqlstore.MaxDeviceProperties]...)
			_, err := st.WriteHeartbeats(ctx, []server.Heartbeat{first})
			Expect(err).NotTo(HaveOccurred())
			second := hb(dev, now.Add(time.Minute), server.StateOK, props[sqlstore.MaxDeviceProperties:]...)
			_, err = st.WriteHeartbeats(ctx, []server.Heartbeat{second})
			Expect(err).NotTo(HaveOccurred())
			d, err := st.GetDevice(ctx, dev)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.Properties).To(HaveLen(sqlstore.MaxDeviceProperties))
			Expect(d.Properties[0].Name).To(Equal("p0003"))
			Expect(d.Properties[len(d.Properties)-1].Name).To(Equal(fmt.Sprintf("p%04d", sqlstore.MaxDeviceProperties+2)))
		})

		It("does not let a late, older heartbeat set the state back", func() {
			_, err := st.WriteHeartbeats(ctx, []server.Heartbeat{hb(dev, now, server.StateError)})
			Expect(err).NotTo(HaveOccurred())
			_, err = st.WriteHeartbeats(ctx, []server.Heartbeat{hb(dev, now.Add(-time.Hour), server.StateOK, server.Attr{Name: "a", Value: "b"})})
			Expect(err).NotTo(HaveOccurred())
			d, err := st.GetDevice(ctx, dev)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.State).To(Equal(server.StateError))
			Expect(d.LastSeen).To(Equal(now))
			Expect(d.Properties).To(Equal([]server.Attr{{Name: "a", Value: "b"}}))
		})

		It("refuses a batch with an unknown device or missing ids", func() {
			_, err := st.WriteHeartbeats(ctx, []server.Heartbeat{hb(dev, now, server.StateOK), hb("nobody", now, server.StateOK)})
			Expect(codeOf(err)).To(Equal(server.CodeUnknownDevice))
			hist, _, err := st.DeviceHistory(ctx, server.HistoryFilter{DeviceID: dev}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(hist).To(BeEmpty())
			_, err = st.WriteHeartbeats(ctx, []server.Heartbeat{{State: server.StateOK}})
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))
			acks, err := st.WriteHeartbeats(ctx, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(acks).To(BeEmpty())
		})

		It("filters and pages history", func() {
			var batch []server.Heartbeat
			for i := range 10 {
				batch = append(batch, hb(dev, now.Add(time.Duration(i)*time.Minute), server.StateOK))
			}
			_, err := st.WriteHeartbeats(ctx, batch)
			Expect(err).NotTo(HaveOccurred())
			f := server.HistoryFilter{DeviceID: dev, From: now.Add(2 * time.Minute), To: now.Add(9 * time.Minute)}
			var times []time.Time
			token := ""
			for {
				hist, next, err := st.DeviceHistory(ctx, f, server.Page{Limit: 3, Token: token})
				Expect(err).NotTo(HaveOccurred())
				for _, h := range hist {
					times = append(times, h.Time)
				}
				if next == "" {
					break
				}
				token = next
			}
			Expect(times).To(HaveLen(7))
			Expect(times[0]).To(Equal(now.Add(2 * time.Minute)))
			Expect(times[6]).To(Equal(now.Add(8 * time.Minute)))

			_, _, err = st.DeviceHistory(ctx, server.HistoryFilter{DeviceID: "nobody"}, server.Page{})
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))
			_, _, err = st.DeviceHistory(ctx, server.HistoryFilter{}, server.Page{})
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))
		})

		It("lists devices by state once they have reported", func() {
			cust := id("cust")
			d2 := id("dev")
			register(st, server.Device{ID: d2, Customer: cust})
			_, err := st.WriteHeartbeats(ctx, []server.Heartbeat{hb(d2, now, server.StateMaintenance)})
			Expect(err).NotTo(HaveOccurred())
			list, _, err := st.ListDevices(ctx, server.DeviceFilter{Customer: cust, State: server.StateMaintenance}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(list).To(HaveLen(1))
			list, _, err = st.ListDevices(ctx, server.DeviceFilter{Customer: cust, State: server.StateOK}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(list).To(BeEmpty())
			// One that never reported is shown, and so listed, as offline.
			silent := id("dev")
			register(st, server.Device{ID: silent, Customer: cust})
			list, _, err = st.ListDevices(ctx, server.DeviceFilter{Customer: cust, State: server.StateOffline}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(list).To(HaveLen(1))
			Expect(list[0].ID).To(Equal(silent))
		})
	})

	Describe("alarms", func() {
		report := func(alarms ...server.AlarmReport) (int, error) {
			return st.ReportAlarms(ctx, ref(dev), alarms, now)
		}
		alarm := func(code string, sev server.Severity) server.AlarmReport {
			return server.AlarmReport{Code: code, Severity: sev, Text: "text " + code, RaisedAt: now,
				Context: []server.Attr{{Name: "k", Value: "v"}}}
		}
		list := func(f server.AlarmFilter) []server.Alarm {
			GinkgoHelper()
			f.DeviceID = dev
			out, _, err := st.ListAlarms(ctx, f, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			return out
		}

		It("stores an alarm once while it is open, and counts open alarms on the device", func() {
			n, err := report(alarm("E1", server.SeverityMajor), alarm("E1", server.SeverityMajor), alarm("E2", server.SeverityMinor))
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(3))
			_, err = report(alarm("E1", server.SeverityMajor))
			Expect(err).NotTo(HaveOccurred())
			all := list(server.AlarmFilter{})
			Expect(all).To(HaveLen(2))
			d, err := st.GetDevice(ctx, dev)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.OpenAlarms).To(Equal(2))

			a, err := st.GetAlarm(ctx, all[0].ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(a.State).To(Equal(server.AlarmActive))
			Expect(a.RaisedAt).To(Equal(now))
			Expect(a.Context).To(Equal([]server.Attr{{Name: "k", Value: "v"}}))
		})

		It("goes active → acknowledged → cleared, refusing other moves", func() {
			_, err := report(alarm("E1", server.SeverityCritical))
			Expect(err).NotTo(HaveOccurred())
			a := list(server.AlarmFilter{})[0]
			acked, err := st.AcknowledgeAlarm(ctx, a.ID, "alice", "looking", now.Add(time.Minute))
			Expect(err).NotTo(HaveOccurred())
			Expect(acked.State).To(Equal(server.AlarmAcknowledged))
			Expect(acked.AcknowledgedBy).To(Equal("alice"))
			Expect(acked.AcknowledgedAt).To(Equal(now.Add(time.Minute)))
			_, err = st.AcknowledgeAlarm(ctx, a.ID, "bob", "", now)
			Expect(codeOf(err)).To(Equal(server.CodeConflict))

			// still open, so the device's repeat is absorbed
			_, err = report(alarm("E1", server.SeverityCritical))
			Expect(err).NotTo(HaveOccurred())
			Expect(list(server.AlarmFilter{})).To(HaveLen(1))

			cleared, err := st.ClearAlarm(ctx, a.ID, "alice", "fixed", now.Add(2*time.Minute))
			Expect(err).NotTo(HaveOccurred())
			Expect(cleared.State).To(Equal(server.AlarmCleared))
			Expect(cleared.ClearedBy).To(Equal("alice"))
			Expect(cleared.Comment).To(Equal("fixed"))
			_, err = st.ClearAlarm(ctx, a.ID, "alice", "", now)
			Expect(codeOf(err)).To(Equal(server.CodeConflict))
			_, err = st.AcknowledgeAlarm(ctx, a.ID, "alice", "", now)
			Expect(codeOf(err)).To(Equal(server.CodeConflict))

			// cleared, so the code may be raised anew
			_, err = report(alarm("E1", server.SeverityCritical))
			Expect(err).NotTo(HaveOccurred())
			Expect(list(server.AlarmFilter{})).To(HaveLen(2))
			Expect(list(server.AlarmFilter{State: server.AlarmActive})).To(HaveLen(1))

			_, err = st.GetAlarm(ctx, uuid.NewString())
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))
			_, err = st.AcknowledgeAlarm(ctx, uuid.NewString(), "a", "", now)
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))
			_, err = st.ClearAlarm(ctx, uuid.NewString(), "a", "", now)
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))
		})

		It("is cleared by the device with ClearedAt, and keeps a clear with nothing open", func() {
			_, err := report(alarm("E1", server.SeverityMajor))
			Expect(err).NotTo(HaveOccurred())
			c := alarm("E1", server.SeverityMajor)
			c.ClearedAt = now.Add(time.Minute)
			c2 := alarm("E9", server.SeverityInfo)
			c2.ClearedAt = now.Add(time.Minute)
			_, err = report(c, c2)
			Expect(err).NotTo(HaveOccurred())
			all := list(server.AlarmFilter{})
			Expect(all).To(HaveLen(2))
			for _, a := range all {
				Expect(a.State).To(Equal(server.AlarmCleared))
				Expect(a.ClearedBy).To(Equal("device"))
				Expect(a.ClearedAt).To(Equal(now.Add(time.Minute)))
			}
			d, err := st.GetDevice(ctx, dev)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.OpenAlarms).To(BeZero())
		})

		It("filters by severity, state and time, newest first, with pages", func() {
			sevs := []server.Severity{server.SeverityInfo, server.SeverityWarning, server.SeverityMinor, server.SeverityMajor, server.SeverityCritical}
			for i, sev := range sevs {
				a := alarm(fmt.Sprintf("C%d", i), sev)
				a.RaisedAt = now.Add(time.Duration(i) * time.Minute)
				_, err := report(a)
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(list(server.AlarmFilter{MinSeverity: server.SeverityMinor})).To(HaveLen(3))
			Expect(list(server.AlarmFilter{Since: now.Add(4 * time.Minute)})).To(HaveLen(1))
			Expect(list(server.AlarmFilter{State: server.AlarmCleared})).To(BeEmpty())
			_, _, err := st.ListAlarms(ctx, server.AlarmFilter{MinSeverity: "loud"}, server.Page{})
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))

			var codes []string
			token := ""
			for {
				page, next, err := st.ListAlarms(ctx, server.AlarmFilter{DeviceID: dev}, server.Page{Limit: 2, Token: token})
				Expect(err).NotTo(HaveOccurred())
				for _, a := range page {
					codes = append(codes, a.Code)
				}
				if next == "" {
					break
				}
				token = next
			}
			Expect(codes).To(Equal([]string{"C4", "C3", "C2", "C1", "C0"}))
		})

		It("applies a repeated message once, even when the repeats race", func() {
			r := ref(dev)
			var wg sync.WaitGroup
			results := make([]int, 8)
			for i := range results {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					// the repeat's body differs; the first answer still wins
					reports := []server.AlarmReport{alarm("R1", server.SeverityMajor)}
					if i > 0 {
						reports = append(reports, alarm(fmt.Sprintf("X%d", i), server.SeverityMajor))
					}
					n, err := st.ReportAlarms(ctx, r, reports, now)
					Expect(err).NotTo(HaveOccurred())
					results[i] = n
				}()
			}
			wg.Wait()
			first := results[0]
			for _, n := range results {
				Expect(n).To(Equal(first))
			}
			Expect(list(server.AlarmFilter{})).To(HaveLen(first))
		})

		It("refuses malformed reports and unknown devices", func() {
			_, err := report(server.AlarmReport{Severity: server.SeverityMajor})
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))
			_, err = report(server.AlarmReport{Code: "E", Severity: "loud"})
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))
			_, err = st.ReportAlarms(ctx, ref("nobody"), []server.AlarmReport{alarm("E", server.SeverityInfo)}, now)
			Expect(codeOf(err)).To(Equal(server.CodeUnknownDevice))
			_, err = st.ReportAlarms(ctx, server.MessageRef{DeviceID: dev}, nil, now)
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))
		})

		It("refuses a message id reused for another operation", func() {
			r := ref(dev)
			_, err := st.ReportAlarms(ctx, r, nil, now)
			Expect(err).NotTo(HaveOccurred())
			_, err = st.ClaimInstructions(ctx, r, 1, now)
			Expect(codeOf(err)).To(Equal(server.CodeConflict))
		})
	})

	Describe("instructions", func() {
		queue := func(s *sqlstore.Store, device string, ttl time.Duration) *server.Instruction {
			GinkgoHelper()
			in, err := s.QueueInstruction(ctx, server.NewInstruction{DeviceID: device, Type: "collect-logs",
				Parameters: []server.Attr{{Name: "since", Value: "1h"}}, TTL: ttl, CreatedBy: "user:alice"}, now)
			Expect(err).NotTo(HaveOccurred())
			return in
		}

		It("queues, reads back and refuses unknown devices", func() {
			in := queue(st, dev, 0)
			Expect(in.Status).To(Equal(server.InstructionQueued))
			Expect(in.ExpiresAt).To(Equal(now.Add(server.DefaultInstructionTTL)))
			Expect(uuid.Validate(in.ID)).To(Succeed())
			got, err := st.GetInstruction(ctx, in.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(in))
			Expect(got.Parameters).To(Equal([]server.Attr{{Name: "since", Value: "1h"}}))

			long := queue(st, dev, 365*24*time.Hour)
			Expect(long.ExpiresAt).To(Equal(now.Add(server.MaxInstructionTTL)))

			_, err = st.QueueInstruction(ctx, server.NewInstruction{DeviceID: "nobody", Type: "x"}, now)
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))
			_, err = st.QueueInstruction(ctx, server.NewInstruction{DeviceID: dev}, now)
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))
			_, err = st.QueueInstruction(ctx, server.NewInstruction{DeviceID: dev, Type: "x", TTL: -time.Second}, now)
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))
			_, err = st.GetInstruction(ctx, uuid.NewString())
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))
		})

		It("returns the first instruction for a repeated request id, even when repeats race", func() {
			rid := uuid.NewString()
			ids := make([]string, 6)
			var wg sync.WaitGroup
			for i := range ids {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					in, err := st.QueueInstruction(ctx, server.NewInstruction{DeviceID: dev, Type: "reboot", RequestID: rid}, now)
					Expect(err).NotTo(HaveOccurred())
					ids[i] = in.ID
				}()
			}
			wg.Wait()
			for _, x := range ids {
				Expect(x).To(Equal(ids[0]))
			}
			list, _, err := st.ListInstructions(ctx, server.InstructionFilter{DeviceID: dev}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(list).To(HaveLen(1))
		})

		It("hands out oldest first, once, and answers a repeated claim with the first answer", func() {
			a, b2, c := queue(st, dev, 0), queue(st, dev, 0), queue(st, dev, 0)
			pending, err := st.HasPendingInstructions(ctx, dev, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(pending).To(BeTrue())

			r := ref(dev)
			before, err := st.ClaimedBefore(ctx, r)
			Expect(err).NotTo(HaveOccurred())
			Expect(before).To(BeFalse())
			got, err := st.ClaimInstructions(ctx, r, 2, now)
			Expect(err).NotTo(HaveOccurred())
			Expect([]string{got[0].ID, got[1].ID}).To(Equal([]string{a.ID, b2.ID}))
			Expect(got[0].Status).To(Equal(server.InstructionDelivered))

			before, err = st.ClaimedBefore(ctx, r)
			Expect(err).NotTo(HaveOccurred())
			Expect(before).To(BeTrue())
			again, err := st.ClaimInstructions(ctx, r, 2, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(again).To(Equal(got))

			rest, err := st.ClaimInstructions(ctx, ref(dev), 0, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(rest).To(HaveLen(1))
			Expect(rest[0].ID).To(Equal(c.ID))

			none, err := st.ClaimInstructions(ctx, ref(dev), 5, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(none).To(BeEmpty())
			pending, err = st.HasPendingInstructions(ctx, dev, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(pending).To(BeFalse())
		})

		It("hands each instruction out exactly once to many concurrent claimers on two stores", func() {
			other := openStore(url)
			const total = 60
			for range total {
				queue(st, dev, 0)
			}
			var mu sync.Mutex
			seen := map[string]int{}
			var wg sync.WaitGroup
			for w := range 12 {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					s := []*sqlstore.Store{st, other}[w%2]
					for {
						mu.Lock()
						r := ref(dev)
						mu.Unlock()
						got, err := s.ClaimInstructions(ctx, r, 3, now)
						Expect(err).NotTo(HaveOccurred())
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, in := range got {
							seen[in.ID]++
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			Expect(seen).To(HaveLen(total))
			for _, n := range seen {
				Expect(n).To(Equal(1))
			}
		})

		It("expires queued instructions on claim and in housekeeping, but lets a delivered one report", func() {
			delivered := queue(st, dev, time.Minute)
			onClaim := queue(st, dev, time.Minute)
			_, err := st.ClaimInstructions(ctx, ref(dev), 1, now) // hands out `delivered`, the oldest
			Expect(err).NotTo(HaveOccurred())
			got, err := st.ClaimInstructions(ctx, ref(dev), 5, now.Add(2*time.Minute))
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(BeEmpty())
			in, err := st.GetInstruction(ctx, onClaim.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(in.Status).To(Equal(server.InstructionExpired))

			inHousekeeping := queue(st, dev, time.Minute)
			n, err := st.Housekeep(ctx, now.Add(2*time.Minute))
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(1))
			in, err = st.GetInstruction(ctx, inHousekeeping.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(in.Status).To(Equal(server.InstructionExpired))

			// The device already has the delivered one: its result, however
			// late, is recorded.
			in, err = st.GetInstruction(ctx, delivered.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(in.Status).To(Equal(server.InstructionDelivered))
			_, err = st.ReportInstructionResult(ctx, ref(dev), server.InstructionResult{InstructionID: delivered.ID,
				Status: server.InstructionSucceeded}, now.Add(time.Hour))
			Expect(err).NotTo(HaveOccurred())
		})

		It("records results, refuses them once final or from another device, and tells of a cancel", func() {
			in := queue(st, dev, 0)
			_, err := st.ClaimInstructions(ctx, ref(dev), 1, now)
			Expect(err).NotTo(HaveOccurred())
			res := func(status server.InstructionStatus) (bool, error) {
				return st.ReportInstructionResult(ctx, ref(dev), server.InstructionResult{InstructionID: in.ID, Status: status,
					ExitCode: 3, Output: "out " + string(status)}, now.Add(time.Minute))
			}
			cancel, err := res(server.InstructionAccepted)
			Expect(err).NotTo(HaveOccurred())
			Expect(cancel).To(BeFalse())
			_, err = res(server.InstructionRunning)
			Expect(err).NotTo(HaveOccurred())
			r := ref(dev)
			fin := server.InstructionResult{InstructionID: in.ID, Status: server.InstructionFailed, ExitCode: 3, Output: "boom"}
			_, err = st.ReportInstructionResult(ctx, r, fin, now.Add(time.Minute))
			Expect(err).NotTo(HaveOccurred())
			got, err := st.GetInstruction(ctx, in.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Status).To(Equal(server.InstructionFailed))
			Expect(got.ExitCode).To(Equal(3))
			Expect(got.Output).To(Equal("boom"))
			Expect(got.FinishedAt).To(Equal(now.Add(time.Minute)))

			// the same message again is a repeat, not a conflict
			_, err = st.ReportInstructionResult(ctx, r, fin, now.Add(time.Minute))
			Expect(err).NotTo(HaveOccurred())
			_, err = res(server.InstructionSucceeded)
			Expect(codeOf(err)).To(Equal(server.CodeConflict))

			_, err = st.ReportInstructionResult(ctx, ref("intruder"), server.InstructionResult{InstructionID: in.ID,
				Status: server.InstructionSucceeded}, now)
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))
			_, err = st.ReportInstructionResult(ctx, ref(dev), server.InstructionResult{InstructionID: uuid.NewString(),
				Status: server.InstructionSucceeded}, now)
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))
			_, err = st.ReportInstructionResult(ctx, ref(dev), server.InstructionResult{InstructionID: in.ID,
				Status: server.InstructionCancelled}, now)
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))

			running := queue(st, dev, 0)
			cancelled, err := st.CancelInstruction(ctx, running.ID, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(cancelled.Status).To(Equal(server.InstructionCancelled))
			_, err = st.CancelInstruction(ctx, running.ID, now)
			Expect(codeOf(err)).To(Equal(server.CodeConflict))
			cancel, err = st.ReportInstructionResult(ctx, ref(dev), server.InstructionResult{InstructionID: running.ID,
				Status: server.InstructionRunning}, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(cancel).To(BeTrue())
		})

		It("lists newest first with filters and pages", func() {
			var ids []string
			for i := range 5 {
				now = now.Add(time.Second)
				ids = append([]string{queue(st, dev, 0).ID}, ids...)
				_ = i
			}
			var got []string
			token := ""
			for {
				page, next, err := st.ListInstructions(ctx, server.InstructionFilter{DeviceID: dev, Status: server.InstructionQueued},
					server.Page{Limit: 2, Token: token})
				Expect(err).NotTo(HaveOccurred())
				for _, in := range page {
					got = append(got, in.ID)
				}
				if next == "" {
					break
				}
				token = next
			}
			Expect(got).To(Equal(ids))
		})

		It("wakes a watcher when an instruction is queued for its device", func() {
			wake, stop := st.WatchInstructions(dev)
			defer stop()
			otherWake, otherStop := st.WatchInstructions(id("dev"))
			defer otherStop()
			queue(st, dev, 0)
			Eventually(wake).Should(Receive())
			Consistently(otherWake, 200*time.Millisecond).ShouldNot(Receive())
			stop()
			stop()
			// A watcher may be woken more than once per queue (on PostgreSQL
			// the local wake and the NOTIFY echo); it only ever re-checks.
			select {
			case <-wake:
			default:
			}
			queue(st, dev, 0)
			Consistently(wake, 200*time.Millisecond).ShouldNot(Receive())
		})

		if b.crossProcessWake {
			It("wakes a watcher on another store on the same database", func() {
				other := openStore(url)
				wake, stop := other.WatchInstructions(dev)
				defer stop()
				queue(st, dev, 0)
				Eventually(wake, 5*time.Second).Should(Receive())
			})
		}
	})

	Describe("uploads", func() {
		nu := server.NewUpload{Name: "logs.tgz", Kind: server.UploadLog, Size: 100, SHA256: strings.Repeat("ab", 32),
			Compression: server.CompressionGzip}

		It("begins, resumes, advances, refuses stale offsets and commits", func() {
			in, err := st.QueueInstruction(ctx, server.NewInstruction{DeviceID: dev, Type: "collect-logs"}, now)
			Expect(err).NotTo(HaveOccurred())
			withIn := nu
			withIn.InstructionID = in.ID
			r := ref(dev)
			u, err := st.BeginUpload(ctx, r, withIn, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(u.State).To(Equal(server.UploadReceiving))
			Expect(u.Received).To(BeZero())
			Expect(u.DeviceID).To(Equal(dev))
			got, err := st.GetInstruction(ctx, in.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.UploadID).To(Equal(u.ID))

			Expect(st.AdvanceUpload(ctx, u.ID, 0, 40)).To(Succeed())
			Expect(codeOf(st.AdvanceUpload(ctx, u.ID, 0, 40))).To(Equal(server.CodeConflict))
			Expect(codeOf(st.AdvanceUpload(ctx, u.ID, 40, 101))).To(Equal(server.CodeTooLarge))
			Expect(codeOf(st.AdvanceUpload(ctx, u.ID, 40, 39))).To(Equal(server.CodeMalformed))
			Expect(codeOf(st.AdvanceUpload(ctx, uuid.NewString(), 0, 1))).To(Equal(server.CodeNotFound))

			again, err := st.BeginUpload(ctx, r, withIn, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(again).To(Equal(u))

			resumed, err := st.BeginUpload(ctx, ref(dev), nu, now.Add(time.Hour))
			Expect(err).NotTo(HaveOccurred())
			Expect(resumed.ID).To(Equal(u.ID))
			Expect(resumed.Received).To(Equal(int64(40)))

			_, err = st.FinishUpload(ctx, u.ID, server.UploadCommitted, now)
			Expect(codeOf(err)).To(Equal(server.CodeConflict))
			Expect(st.AdvanceUpload(ctx, u.ID, 40, 100)).To(Succeed())
			done, err := st.FinishUpload(ctx, u.ID, server.UploadCommitted, now.Add(time.Minute))
			Expect(err).NotTo(HaveOccurred())
			Expect(done.State).To(Equal(server.UploadCommitted))
			Expect(done.CommittedAt).To(Equal(now.Add(time.Minute)))
			same, err := st.FinishUpload(ctx, u.ID, server.UploadCommitted, now.Add(time.Hour))
			Expect(err).NotTo(HaveOccurred())
			Expect(same).To(Equal(done))
			_, err = st.FinishUpload(ctx, u.ID, server.UploadFailed, now)
			Expect(codeOf(err)).To(Equal(server.CodeConflict))
			Expect(codeOf(st.AdvanceUpload(ctx, u.ID, 100, 100))).To(Equal(server.CodeConflict))
			_, err = st.FinishUpload(ctx, u.ID, server.UploadReceiving, now)
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))
			_, err = st.FinishUpload(ctx, uuid.NewString(), server.UploadFailed, now)
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))

			fresh, err := st.BeginUpload(ctx, ref(dev), nu, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(fresh.ID).NotTo(Equal(u.ID))
		})

		It("lets only one of two racing writers advance the same chunk", func() {
			u, err := st.BeginUpload(ctx, ref(dev), nu, now)
			Expect(err).NotTo(HaveOccurred())
			var wg sync.WaitGroup
			errs := make([]error, 6)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					errs[i] = st.AdvanceUpload(ctx, u.ID, 0, 50)
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else {
					Expect(codeOf(err)).To(Equal(server.CodeConflict))
				}
			}
			Expect(ok).To(Equal(1))
		})

		It("refuses malformed uploads, unknown devices and lists with filters and pages", func() {
			bad := nu
			bad.Kind = "movie"
			_, err := st.BeginUpload(ctx, ref(dev), bad, now)
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))
			_, err = st.BeginUpload(ctx, ref("nobody"), nu, now)
			Expect(codeOf(err)).To(Equal(server.CodeUnknownDevice))
			_, err = st.GetUpload(ctx, uuid.NewString())
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))

			for i := range 5 {
				u := nu
				u.Name = fmt.Sprintf("f%d", i)
				if i == 4 {
					u.Kind = server.UploadAudit
				}
				now = now.Add(time.Second)
				_, err := st.BeginUpload(ctx, ref(dev), u, now)
				Expect(err).NotTo(HaveOccurred())
			}
			var names []string
			token := ""
			for {
				page, next, err := st.ListUploads(ctx, server.UploadFilter{DeviceID: dev, Kind: server.UploadLog, State: server.UploadReceiving},
					server.Page{Limit: 3, Token: token})
				Expect(err).NotTo(HaveOccurred())
				for _, u := range page {
					names = append(names, u.Name)
				}
				if next == "" {
					break
				}
				token = next
			}
			Expect(names).To(Equal([]string{"f3", "f2", "f1", "f0"}))
		})
	})

	Describe("audit", func() {
		entry := func(i int) server.AuditEntry {
			return server.AuditEntry{Time: now.Add(time.Duration(i)*time.Second + 789*time.Nanosecond), Actor: "user:alice",
				Action: "alarm.acknowledge", Target: fmt.Sprintf("t%d", i), Outcome: server.OutcomeSuccess, Detail: "d"}
		}
		verify := func(s *sqlstore.Store) int64 {
			GinkgoHelper()
			var v server.ChainVerifier
			Expect(s.ScanAudit(ctx, 1, func(r server.AuditRecord) error {
				if br := v.Next(r); br != nil {
					return fmt.Errorf("chain broken at %d: %s", br.Sequence, br.Reason)
				}
				return nil
			})).To(Succeed())
			return v.Checked
		}

		It("appends a hash chain whose records read back as written", func() {
			recs, err := st.AppendAudit(ctx, []server.AuditEntry{entry(1), entry(2)})
			Expect(err).NotTo(HaveOccurred())
			Expect(recs[1].Sequence).To(Equal(recs[0].Sequence + 1))
			Expect(recs[1].PrevHash).To(Equal(recs[0].Hash))
			Expect(recs[0].Hash).To(Equal(server.AuditHash(recs[0].PrevHash, recs[0].Sequence, recs[0].AuditEntry)))

			var back []server.AuditRecord
			Expect(st.ScanAudit(ctx, recs[0].Sequence, func(r server.AuditRecord) error {
				back = append(back, r)
				return nil
			})).To(Succeed())
			Expect(back[:2]).To(Equal(recs))
			Expect(verify(st)).To(BeNumerically(">=", 2))

			stop := fmt.Errorf("enough")
			calls := 0
			Expect(st.ScanAudit(ctx, 1, func(server.AuditRecord) error { calls++; return stop })).To(MatchError(stop))
			Expect(calls).To(Equal(1))

			none, err := st.AppendAudit(ctx, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(none).To(BeEmpty())
			_, err = st.AppendAudit(ctx, []server.AuditEntry{{Actor: "x"}})
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))
		})

		It("starts a fresh chain at sequence 1 from the genesis hash", func() {
			s := openStore(b.fresh())
			recs, err := s.AppendAudit(ctx, []server.AuditEntry{entry(1)})
			Expect(err).NotTo(HaveOccurred())
			Expect(recs[0].Sequence).To(Equal(int64(1)))
			Expect(recs[0].PrevHash).To(Equal(server.GenesisHash))
		})

		It("keeps one unbroken chain under concurrent appenders on two stores", func() {
			other := openStore(url)
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					s := []*sqlstore.Store{st, other}[w%2]
					for i := range 10 {
						_, err := s.AppendAudit(ctx, []server.AuditEntry{entry(i), entry(i + 100)})
						Expect(err).NotTo(HaveOccurred())
					}
				}()
			}
			wg.Wait()
			Expect(verify(st)).To(BeNumerically(">=", 160))
		})

		It("appends a device's events once per message", func() {
			r := ref(dev)
			n, err := st.AppendDeviceAudit(ctx, r, []server.AuditEntry{entry(1), entry(2), entry(3)})
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(3))
			n, err = st.AppendDeviceAudit(ctx, r, []server.AuditEntry{entry(4)})
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(3))
			list, _, err := st.QueryAudit(ctx, server.AuditFilter{Target: "t4"}, server.Page{Limit: server.MaxPageSize})
			Expect(err).NotTo(HaveOccurred())
			for _, a := range list {
				Expect(a.Time).NotTo(Equal(entry(4).Time.Truncate(time.Microsecond)))
			}
		})

		It("queries with filters, newest first, in pages", func() {
			actor := id("user")
			var entries []server.AuditEntry
			for i := range 7 {
				e := entry(i)
				e.Actor = actor
				if i == 6 {
					e.Action = "user.login"
				}
				entries = append(entries, e)
			}
			_, err := st.AppendAudit(ctx, entries)
			Expect(err).NotTo(HaveOccurred())
			var targets []string
			token := ""
			for {
				page, next, err := st.QueryAudit(ctx, server.AuditFilter{Actor: actor, Action: "alarm.acknowledge",
					From: now.Add(time.Second), To: now.Add(5 * time.Second)}, server.Page{Limit: 2, Token: token})
				Expect(err).NotTo(HaveOccurred())
				for _, a := range page {
					targets = append(targets, a.Target)
				}
				if next == "" {
					break
				}
				token = next
			}
			Expect(targets).To(Equal([]string{"t4", "t3", "t2", "t1"}))
		})
	})

	Describe("users", func() {
		It("creates, reads, counts and refuses duplicates", func() {
			before, err := st.CountUsers(ctx)
			Expect(err).NotTo(HaveOccurred())
			u := server.User{Name: id("alice"), Role: server.RoleAdmin, PasswordHash: "$argon2id$v=19$x", CreatedAt: now}
			Expect(st.CreateUser(ctx, u)).To(Succeed())
			Expect(codeOf(st.CreateUser(ctx, u))).To(Equal(server.CodeConflict))
			Expect(codeOf(st.CreateUser(ctx, server.User{Name: "x"}))).To(Equal(server.CodeMalformed))
			got, err := st.GetUser(ctx, u.Name)
			Expect(err).NotTo(HaveOccurred())
			Expect(*got).To(Equal(u))
			after, err := st.CountUsers(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(after).To(Equal(before + 1))
			_, err = st.GetUser(ctx, "nobody")
			Expect(codeOf(err)).To(Equal(server.CodeNotFound))
		})
	})

	Describe("replays and housekeeping", func() {
		It("reports replays, remembers them across a reopen, and forgets them when they lapse", func() {
			k1, k2 := uuid.NewString(), uuid.NewString()
			rep, err := st.RecordReplays(ctx, []server.ReplayRecord{{Key: k1, Until: now.Add(time.Minute)}, {Key: k1, Until: now.Add(time.Minute)},
				{Key: k2, Until: now.Add(time.Hour)}})
			Expect(err).NotTo(HaveOccurred())
			Expect(rep).To(Equal([]bool{false, true, false}))

			Expect(st.Close()).To(Succeed())
			st = openStore(url)
			rep, err = st.RecordReplays(ctx, []server.ReplayRecord{{Key: k1, Until: now.Add(time.Minute)}, {Key: uuid.NewString(), Until: now}})
			Expect(err).NotTo(HaveOccurred())
			Expect(rep).To(Equal([]bool{true, false}))

			_, err = st.Housekeep(ctx, now.Add(2*time.Minute))
			Expect(err).NotTo(HaveOccurred())
			rep, err = st.RecordReplays(ctx, []server.ReplayRecord{{Key: k1, Until: now.Add(time.Hour)}, {Key: k2, Until: now.Add(time.Hour)}})
			Expect(err).NotTo(HaveOccurred())
			Expect(rep).To(Equal([]bool{false, true}))
			_, err = st.RecordReplays(ctx, []server.ReplayRecord{{}})
			Expect(codeOf(err)).To(Equal(server.CodeMalformed))
		})

		It("forgets message ids after the retention, so a very late repeat applies again", func() {
			r := ref(dev)
			_, err := st.ReportAlarms(ctx, r, []server.AlarmReport{{Code: "E1", Severity: server.SeverityInfo, RaisedAt: now}}, now)
			Expect(err).NotTo(HaveOccurred())
			_, err = st.Housekeep(ctx, now.Add(sqlstore.DefaultMessageRetention-time.Minute))
			Expect(err).NotTo(HaveOccurred())
			n, err := st.ReportAlarms(ctx, r, []server.AlarmReport{{Code: "E2", Severity: server.SeverityInfo, RaisedAt: now}}, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(1))
			all, _, err := st.ListAlarms(ctx, server.AlarmFilter{DeviceID: dev}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(all).To(HaveLen(1))

			_, err = st.Housekeep(ctx, now.Add(sqlstore.DefaultMessageRetention+time.Minute))
			Expect(err).NotTo(HaveOccurred())
			_, err = st.ReportAlarms(ctx, r, []server.AlarmReport{{Code: "E2", Severity: server.SeverityInfo, RaisedAt: now}}, now)
			Expect(err).NotTo(HaveOccurred())
			all, _, err = st.ListAlarms(ctx, server.AlarmFilter{DeviceID: dev}, server.Page{})
			Expect(err).NotTo(HaveOccurred())
			Expect(all).To(HaveLen(2))
		})
	})
}
