package main_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	_ "modernc.org/sqlite" // the "sqlite" driver, to tamper with the store

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/soapclient"
)

// jsonObject parses rmsctl's --json output.
func jsonObject(out string) map[string]any {
	GinkgoHelper()
	var m map[string]any
	Expect(json.Unmarshal([]byte(out), &m)).To(Succeed(), "not a JSON object:\n%s", out)
	return m
}

// items is the list of a listing verb's --json output.
func items(out string) []map[string]any {
	GinkgoHelper()
	obj := jsonObject(out)
	list, ok := obj["items"].([]any)
	Expect(ok).To(BeTrue(), "no items list in %s", out)
	res := make([]map[string]any, len(list))
	for i, it := range list {
		res[i] = it.(map[string]any)
	}
	return res
}

// field is one field of each item.
func field(list []map[string]any, name string) []any {
	out := make([]any, len(list))
	for i, it := range list {
		out[i] = it[name]
	}
	return out
}

// sendDeviceData makes what the management verbs read: two devices that
// sent heartbeats, two alarms of dev-0001, and a committed upload larger
// than one FetchUpload answer. It returns the upload's content.
func sendDeviceData(s *testserver.Server) []byte {
	GinkgoHelper()
	ctx := context.Background()
	dev := s.Device("dev-0001")
	warning, ok := soapclient.HealthStateWarning, soapclient.HealthStateOk
	_, err := dev.Heartbeat(ctx, &soapclient.Heartbeat{DeviceRequest: &soapclient.DeviceRequest{}, State: &warning,
		Metric:   []*soapclient.Metric{{Name: "temp", Value: 41.5, Unit: "C"}},
		Property: []*soapclient.NameValue{{Name: "firmware", Value: "4.2.1"}}})
	Expect(err).NotTo(HaveOccurred())
	_, err = s.Device("dev-0002").Heartbeat(ctx, &soapclient.Heartbeat{DeviceRequest: &soapclient.DeviceRequest{}, State: &ok})
	Expect(err).NotTo(HaveOccurred())

	critical, minor := soapclient.SeverityCritical, soapclient.SeverityWarning
	raised := soapclient.NewDateTime(time.Now())
	_, err = dev.ReportAlarms(ctx, &soapclient.ReportAlarms{DeviceRequest: &soapclient.DeviceRequest{}, Alarm: []*soapclient.Alarm{
		{Code: "E-101", Severity: &critical, Text: "tube overheating", RaisedAt: raised,
			Context: []*soapclient.NameValue{{Name: "temp", Value: "92"}}},
		{Code: "W-7", Severity: &minor, Text: "filter due", RaisedAt: raised},
	}})
	Expect(err).NotTo(HaveOccurred())

	// 600 KiB: more than the server's 512 KiB per FetchUpload, so fetch
	// has to loop.
	content := make([]byte, 600<<10)
	_, _ = rand.Read(content)
	sum := sha256.Sum256(content)
	kind, none := soapclient.UploadKindLog, soapclient.CompressionNone
	b, err := dev.BeginUpload(ctx, &soapclient.BeginUpload{DeviceRequest: &soapclient.DeviceRequest{}, Name: "system.log",
		Kind: &kind, Size: int64(len(content)), Sha256: hex.EncodeToString(sum[:]), Compression: &none})
	Expect(err).NotTo(HaveOccurred())
	const chunk = 128 << 10
	for off := 0; off < len(content); off += chunk {
		_, err := dev.UploadChunk(ctx, soapclient.NewUploadChunk(b.UploadId, int64(off), content[off:min(off+chunk, len(content))]))
		Expect(err).NotTo(HaveOccurred())
	}
	_, err = dev.CommitUpload(ctx, &soapclient.CommitUpload{DeviceRequest: &soapclient.DeviceRequest{}, UploadId: b.UploadId})
	Expect(err).NotTo(HaveOccurred())
	return content
}

var _ = Describe("management verbs against a running rms-server", Ordered, func() {
	var (
		s       *testserver.Server
		content []byte
		caPath  = fixtures.Path("pki", "ca.crt")
	)

	// manage runs rmsctl connected to s by flags (after the verb's own
	// arguments and flags, as people type them), with the password in the
	// environment.
	manage := func(args ...string) *gexec.Session {
		GinkgoHelper()
		return runEnv([]string{"RMS_PASSWORD=" + testserver.AdminPassword}, "", append(args, "--server", s.URL, "--ca", caPath)...)
	}
	// ok runs manage and expects exit 0, returning stdout.
	ok := func(args ...string) string {
		GinkgoHelper()
		sess := manage(args...)
		Expect(sess.ExitCode()).To(Equal(0), "rmsctl %v failed:\n%s", args, sess.Err.Contents())
		return string(sess.Out.Contents())
	}

	BeforeAll(func() {
		s = testserver.Start(serverBin, testserver.Options{})
		content = sendDeviceData(s)
	})

	Describe("devices", func() {
		It("lists devices as a table and filters by state as JSON", func() {
			out := ok("devices", "list")
			Expect(out).To(MatchRegexp(`(?m)^ID\s+NAME\s+CUSTOMER\s+SITE\s+MODEL\s+STATE\s+LAST SEEN\s+ALARMS$`))
			Expect(out).To(MatchRegexp(`(?m)^dev-0001\s.*\swarning\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+2$`))
			Expect(out).To(MatchRegexp(`(?m)^dev-0002\s.*\sok\s`))

			list := items(ok("devices", "list", "--state", "warning", "--json"))
			Expect(field(list, "deviceId")).To(ConsistOf("dev-0001"))
			Expect(list[0]["lastSeen"]).To(MatchRegexp(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`))
		})

		It("pages: prints the next token, continues from it, and follows every page with --all", func() {
			first := manage("devices", "list", "--limit", "1")
			Expect(first.ExitCode()).To(Equal(0))
			Expect(strings.Count(string(first.Out.Contents()), "dev-000")).To(Equal(1))
			m := regexp.MustCompile(`more results: repeat with --page-token (\S+), or use --all`).FindSubmatch(first.Err.Contents())
			Expect(m).NotTo(BeNil(), "no page-token hint in %q", first.Err.Contents())

			second := items(ok("devices", "list", "--limit", "1", "--page-token", string(m[1]), "--json"))
			Expect(second).To(HaveLen(1))
			Expect(string(first.Out.Contents())).NotTo(ContainSubstring(second[0]["deviceId"].(string)))

			all := manage("devices", "list", "--limit", "1", "--all", "--json")
			Expect(all.ExitCode()).To(Equal(0))
			obj := jsonObject(string(all.Out.Contents()))
			Expect(obj).NotTo(HaveKey("nextPageToken"))
			Expect(field(items(string(all.Out.Contents())), "deviceId")).To(ConsistOf("dev-0001", "dev-0002"))
			Expect(all.Err.Contents()).NotTo(ContainSubstring("more results"))
		})

		It("shows one device with its metrics and properties", func() {
			out := ok("devices", "show", "dev-0001")
			Expect(out).To(MatchRegexp(`(?m)^ID:\s+dev-0001$`))
			Expect(out).To(MatchRegexp(`(?m)^State:\s+warning$`))
			Expect(out).To(MatchRegexp(`(?m)^Open alarms:\s+2$`))
			Expect(out).To(MatchRegexp(`(?m)^temp\s+41.5\s+C$`))
			Expect(out).To(MatchRegexp(`(?m)^firmware\s+4.2.1$`))

			dev := jsonObject(ok("devices", "show", "dev-0001", "--json"))
			Expect(dev).To(HaveKeyWithValue("summary", HaveKeyWithValue("deviceId", "dev-0001")))
			Expect(dev["metric"]).To(ConsistOf(map[string]any{"name": "temp", "value": 41.5, "unit": "C"}))
			Expect(dev["property"]).To(ContainElement(map[string]any{"name": "firmware", "value": "4.2.1"}))
		})

		It("lists a device's history within --from and --to", func() {
			from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			to := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			out := ok("devices", "history", "dev-0001", "--from", from, "--to", to)
			Expect(out).To(MatchRegexp(`(?m)^\S+Z\s+warning\s+temp=41.5C\s+firmware=4.2.1$`))
			Expect(items(ok("devices", "history", "dev-0001", "--from", from, "--to", to, "--json"))).To(HaveLen(1))

			later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			Expect(items(ok("devices", "history", "dev-0001", "--from", later, "--json"))).To(BeEmpty())
		})

		It("reports an unknown device as the server's NOT_FOUND fault", func() {
			sess := manage("devices", "show", "dev-nope")
			Expect(sess.ExitCode()).To(Equal(1))
			Expect(sess.Err).To(gbytes.Say(`^rmsctl: NOT_FOUND: \S`))
			Expect(sess.Out.Contents()).To(BeEmpty())
		})
	})

	Describe("alarms", func() {
		var ids map[string]string // by code

		BeforeAll(func() {
			ids = map[string]string{}
			for _, a := range items(ok("alarms", "list", "--device", "dev-0001", "--json")) {
				ids[a["code"].(string)] = a["alarmId"].(string)
			}
			Expect(ids).To(HaveKey("E-101"))
			Expect(ids).To(HaveKey("W-7"))
		})

		It("lists alarms as a table and filters by severity", func() {
			out := ok("alarms", "list")
			Expect(out).To(MatchRegexp(`(?m)^` + ids["E-101"] + `\s+dev-0001\s+E-101\s+critical\s+active\s+\S+Z\s+tube overheating$`))
			Expect(field(items(ok("alarms", "list", "--min-severity", "critical", "--json")), "code")).To(ConsistOf("E-101"))
			since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			Expect(items(ok("alarms", "list", "--since", since, "--limit", "10", "--json"))).To(HaveLen(2))
		})

		It("acknowledges an alarm with a comment, and reports a second acknowledgement as CONFLICT", func() {
			out := ok("alarms", "ack", ids["E-101"], "--comment", "on it")
			Expect(out).To(MatchRegexp(`(?m)^State:\s+acknowledged$`))
			Expect(out).To(MatchRegexp(`(?m)^Acknowledged by:\s+admin$`))
			Expect(out).To(MatchRegexp(`(?m)^Comment:\s+on it$`))
			Expect(out).To(MatchRegexp(`(?m)^temp\s+92$`))

			again := manage("alarms", "ack", ids["E-101"])
			Expect(again.ExitCode()).To(Equal(1))
			Expect(again.Err).To(gbytes.Say(`^rmsctl: CONFLICT: \S`))
		})

		It("clears an alarm, which then lists as cleared", func() {
			a := jsonObject(ok("alarms", "clear", ids["W-7"], "--comment", "replaced", "--json"))
			Expect(a).To(HaveKeyWithValue("state", "cleared"))
			Expect(a).To(HaveKeyWithValue("clearedBy", "admin"))
			Expect(a["clearedAt"]).To(MatchRegexp(`Z$`))
			Expect(field(items(ok("alarms", "list", "--state", "cleared", "--json")), "alarmId")).To(ConsistOf(ids["W-7"]))
		})
	})

	Describe("instructions", func() {
		var id string

		It("queues an instruction once per request id", func() {
			in := jsonObject(ok("instructions", "queue", "dev-0001", "RunDiagnostic", "name=selftest", "args=a=b",
				"--ttl", "1h", "--request-id", "req-1", "--json"))
			id, _ = in["instructionId"].(string)
			Expect(id).NotTo(BeEmpty())
			Expect(in).To(HaveKeyWithValue("status", "queued"))
			Expect(in).To(HaveKeyWithValue("createdBy", "admin"))
			Expect(in["parameter"]).To(ConsistOf(
				map[string]any{"name": "name", "value": "selftest"}, map[string]any{"name": "args", "value": "a=b"}))
			created, err := time.Parse(time.RFC3339, in["createdAt"].(string))
			Expect(err).NotTo(HaveOccurred())
			expires, err := time.Parse(time.RFC3339, in["expiresAt"].(string))
			Expect(err).NotTo(HaveOccurred())
			Expect(expires.Sub(created)).To(BeNumerically("~", time.Hour, time.Second))

			out := ok("instructions", "queue", "dev-0001", "RunDiagnostic", "--request-id", "req-1")
			Expect(out).To(MatchRegexp(`(?m)^ID:\s+` + id + `$`))
		})

		It("shows it with its parameters", func() {
			out := ok("instructions", "show", id)
			Expect(out).To(MatchRegexp(`(?m)^Type:\s+RunDiagnostic$`))
			Expect(out).To(MatchRegexp(`(?m)^Status:\s+queued$`))
			Expect(out).To(MatchRegexp(`(?m)^name\s+selftest$`))
		})

		It("lists it by device and status", func() {
			Expect(ok("instructions", "list", "--device", "dev-0001")).To(MatchRegexp(`(?m)^` + id + `\s+dev-0001\s+RunDiagnostic\s+queued\s`))
			Expect(field(items(ok("instructions", "list", "--status", "queued", "--json")), "instructionId")).To(ConsistOf(id))
			Expect(items(ok("instructions", "list", "--status", "succeeded", "--json"))).To(BeEmpty())
		})

		It("shows the device's result and output once it has finished", func() {
			Expect(ok("instructions", "show", id)).NotTo(ContainSubstring("Output:"))
			ctx := context.Background()
			dev := s.Device("dev-0001")
			polled, err := dev.RequestInstructions(ctx, &soapclient.RequestInstructions{DeviceRequest: &soapclient.DeviceRequest{}})
			Expect(err).NotTo(HaveOccurred())
			Expect(polled.Instruction).To(HaveLen(1))
			failed := soapclient.InstructionStatusFailed
			_, err = dev.ReportInstructionResult(ctx, &soapclient.ReportInstructionResult{DeviceRequest: &soapclient.DeviceRequest{},
				InstructionId: id, Status: &failed, ExitCode: 3, Output: "selftest: tube\n\u202eFAIL\n", FinishedAt: soapclient.NewDateTime(time.Now())})
			Expect(err).NotTo(HaveOccurred())

			out := ok("instructions", "show", id)
			Expect(out).To(MatchRegexp(`(?m)^Status:\s+failed$`))
			Expect(out).To(MatchRegexp(`(?m)^Exit code:\s+3$`))
			// The device's bidirectional override is blanked, its lines kept.
			// (XML cannot carry an escape character at all.)
			Expect(out).To(HaveSuffix("\nOutput:\nselftest: tube\n FAIL\n"))
			Expect(field(items(ok("instructions", "list", "--status", "failed", "--json")), "instructionId")).To(ConsistOf(id))
		})
	})

	Describe("instructions cancel", func() {
		It("cancels a queued instruction, which is then not handed out, and refuses to cancel a final one", func() {
			q := jsonObject(ok("instructions", "queue", "dev-0001", "RestartAgent", "--json"))
			qid := q["instructionId"].(string)
			out := ok("instructions", "cancel", qid)
			Expect(out).To(MatchRegexp(`(?m)^ID:\s+` + qid + `$`))
			Expect(out).To(MatchRegexp(`(?m)^Status:\s+cancelled$`))
			Expect(out).To(MatchRegexp(`(?m)^Exit code:\s+-$`))

			polled, err := s.Device("dev-0001").RequestInstructions(context.Background(),
				&soapclient.RequestInstructions{DeviceRequest: &soapclient.DeviceRequest{}})
			Expect(err).NotTo(HaveOccurred())
			Expect(polled.Instruction).To(BeEmpty())
			Expect(field(items(ok("instructions", "list", "--status", "cancelled", "--json")), "instructionId")).To(ConsistOf(qid))

			again := manage("instructions", "cancel", qid)
			Expect(again.ExitCode()).To(Equal(1))
			Expect(again.Err).To(gbytes.Say(`^rmsctl: CONFLICT: \S`))
			Expect(again.Out.Contents()).To(BeEmpty())

			missing := manage("instructions", "cancel", "no-such-instruction")
			Expect(missing.ExitCode()).To(Equal(1))
			Expect(missing.Err).To(gbytes.Say(`^rmsctl: NOT_FOUND: \S`))
		})
	})

	Describe("uploads", func() {
		var id string

		It("lists the committed upload", func() {
			list := items(ok("uploads", "list", "--device", "dev-0001", "--kind", "log", "--state", "committed", "--json"))
			Expect(list).To(HaveLen(1))
			id = list[0]["uploadId"].(string)
			Expect(list[0]).To(HaveKeyWithValue("name", "system.log"))
			Expect(ok("uploads", "list")).To(MatchRegexp(`(?m)^` + id + `\s+dev-0001\s+system.log\s+log\s+committed\s+614400\s`))
			Expect(items(ok("uploads", "list", "--kind", "audit", "--json"))).To(BeEmpty())
		})

		It("fetches it whole, over several calls, to stdout and to a file", func() {
			sess := manage("uploads", "fetch", id)
			Expect(sess.ExitCode()).To(Equal(0), string(sess.Err.Contents()))
			Expect(sess.Out.Contents()).To(Equal(content))

			path := filepath.Join(GinkgoT().TempDir(), "system.log")
			Expect(ok("uploads", "fetch", id, "-o", path)).To(BeEmpty())
			got, err := os.ReadFile(path)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(content))
			entries, err := os.ReadDir(filepath.Dir(path))
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(HaveLen(1), "a temporary file was left behind")
		})

		It("leaves no file behind when the fetch fails", func() {
			path := filepath.Join(GinkgoT().TempDir(), "nothing.log")
			sess := manage("uploads", "fetch", "no-such-upload", "-o", path)
			Expect(sess.ExitCode()).To(Equal(1))
			Expect(sess.Err).To(gbytes.Say(`^rmsctl: NOT_FOUND: `))
			entries, err := os.ReadDir(filepath.Dir(path))
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(BeEmpty())
		})
	})

	Describe("audit query", func() {
		It("finds what the verbs above did", func() {
			recs := items(ok("audit", "query", "--actor", "user:admin", "--action", "manage.QueueInstruction", "--json"))
			Expect(recs).NotTo(BeEmpty())
			Expect(recs[0]).To(HaveKeyWithValue("outcome", "success"))
			Expect(recs[0]["hash"]).To(MatchRegexp(`^[0-9a-f]{64}$`))

			out := ok("audit", "query", "--action", "manage.AcknowledgeAlarm", "--from", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
			Expect(out).To(MatchRegexp(`(?m)^SEQ\s+TIME\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME\s+DETAIL$`))
			Expect(out).To(MatchRegexp(`(?m)^\d+\s+\S+Z\s+user:admin\s+manage.AcknowledgeAlarm\s+\S+\s+success\s`))
		})
	})

	Describe("devices register and revoke", func() {
		It("pre-registers a device, shown offline until it reports, and refuses a second registration", func() {
			out := ok("devices", "register", "dev-0042", "--display-name", "Analyser, lab 3", "--customer", "St. Elsewhere",
				"--site", "Main campus", "--model", "Lyra 9")
			Expect(out).To(MatchRegexp(`(?m)^ID:\s+dev-0042$`))
			Expect(out).To(MatchRegexp(`(?m)^Name:\s+Analyser, lab 3$`))
			Expect(out).To(MatchRegexp(`(?m)^Customer:\s+St. Elsewhere$`))
			Expect(out).To(MatchRegexp(`(?m)^Site:\s+Main campus$`))
			Expect(out).To(MatchRegexp(`(?m)^Model:\s+Lyra 9$`))
			Expect(out).To(MatchRegexp(`(?m)^State:\s+offline$`))
			Expect(out).To(MatchRegexp(`(?m)^Last seen:\s+-$`))

			dev := jsonObject(ok("devices", "register", "dev-0043", "--json"))
			Expect(dev).To(HaveKeyWithValue("summary", HaveKeyWithValue("deviceId", "dev-0043")))
			Expect(ok("devices", "show", "dev-0042")).To(MatchRegexp(`(?m)^Model:\s+Lyra 9$`))

			again := manage("devices", "register", "dev-0042")
			Expect(again.ExitCode()).To(Equal(1))
			Expect(again.Err).To(gbytes.Say(`^rmsctl: CONFLICT: \S`))
			Expect(again.Out.Contents()).To(BeEmpty())
		})

		It("revokes a certificate by serial, as openssl prints it, and the device is refused at once", func() {
			id := testserver.NewIdentity("dev-0099")
			dev := s.DeviceAs(id)
			ctx := context.Background()
			okState := soapclient.HealthStateOk
			_, err := dev.Heartbeat(ctx, &soapclient.Heartbeat{DeviceRequest: &soapclient.DeviceRequest{}, State: &okState})
			Expect(err).NotTo(HaveOccurred())

			serial := id.Cert.SerialNumber.Text(16)
			out := ok("devices", "revoke", "serial=00"+strings.ToUpper(serial), "--reason", "stolen")
			Expect(out).To(MatchRegexp(`(?m)^Revoked serial:\s+` + serial + `$`))

			_, err = dev.Heartbeat(ctx, &soapclient.Heartbeat{DeviceRequest: &soapclient.DeviceRequest{}, State: &okState})
			var f *soapclient.Fault
			Expect(errors.As(err, &f)).To(BeTrue(), "%v", err)
			Expect(f.Code).To(Equal("FORBIDDEN"))

			// Revoking again is harmless.
			Expect(jsonObject(ok("devices", "revoke", serial, "--json"))).To(HaveKeyWithValue("serial", serial))
		})
	})

	Describe("connection", func() {
		It("refuses a wrong password with the server's FORBIDDEN", func() {
			sess := runEnv([]string{"RMS_PASSWORD=not-the-password"}, "", "devices", "list", "--server", s.URL, "--ca", caPath)
			Expect(sess.ExitCode()).To(Equal(1))
			Expect(sess.Err).To(gbytes.Say(`^rmsctl: FORBIDDEN: \S`))
			Expect(sess.Out.Contents()).To(BeEmpty())
		})

		It("takes the server, CA and user from the environment and the password from stdin", func() {
			sess := runEnv([]string{"RMS_SERVER=" + s.URL + "/", "RMS_CA=" + caPath, "RMS_USER=admin"},
				testserver.AdminPassword+"\n", "devices", "show", "dev-0002")
			Expect(sess.ExitCode()).To(Equal(0), string(sess.Err.Contents()))
			Expect(sess.Out).To(gbytes.Say(`ID:\s+dev-0002`))

			sess = runEnv([]string{"RMS_SERVER=" + s.URL, "RMS_CA=" + caPath, "RMS_USER=nobody"},
				testserver.AdminPassword+"\n", "devices", "show", "dev-0002")
			Expect(sess.ExitCode()).To(Equal(1))
			Expect(sess.Err).To(gbytes.Say(`^rmsctl: FORBIDDEN: `))
		})

		It("refuses a server whose certificate another CA issued", func() {
			other := filepath.Join(GinkgoT().TempDir(), "pki")
			succeed("", "pki", "init", "--dir", other)
			sess := runEnv([]string{"RMS_PASSWORD=" + testserver.AdminPassword}, "", "devices", "list",
				"--server", s.URL, "--ca", filepath.Join(other, "ca.crt"))
			Expect(sess.ExitCode()).To(Equal(1))
			Expect(sess.Err).To(gbytes.Say(`rmsctl devices list: .*not issued by a trusted CA`))
		})
	})
})

var _ = Describe("audit verify", func() {
	It("proves an intact chain, and names the record tampered with in the SQLite file", func() {
		s := testserver.Start(serverBin, testserver.Options{})
		// Management calls are audited, each one record.
		m := s.Manager()
		for range 3 {
			_, err := m.ListDevices(context.Background(), &management.ListDevices{})
			Expect(err).NotTo(HaveOccurred())
		}
		s.Stop()
		db := s.Options.DB
		out := succeed("", "audit", "verify", "--db", db)
		n := regexp.MustCompile(`^audit chain intact: (\d+) records\n$`).FindStringSubmatch(out)
		Expect(n).NotTo(BeNil(), "unexpected output %q", out)
		Expect(n[1]).NotTo(Equal("0"))

		conn, err := sql.Open("sqlite", strings.TrimPrefix(db, "sqlite:"))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		var seq int64
		Expect(conn.QueryRow(`SELECT seq FROM audit WHERE action = 'manage.ListDevices' ORDER BY seq LIMIT 1 OFFSET 1`).Scan(&seq)).To(Succeed())
		res, err := conn.Exec(`UPDATE audit SET actor = 'user:someone-else' WHERE seq = ?`, seq)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RowsAffected()).To(BeEquivalentTo(1))
		Expect(conn.Close()).To(Succeed())

		sess := run("", "audit", "verify", "--db", db)
		Expect(sess.ExitCode()).To(Equal(1))
		Expect(sess.Err).To(gbytes.Say(`^audit chain broken at record %d: record content does not match its hash\n`, seq))
		Expect(sess.Out.Contents()).To(BeEmpty())
	})

	It("refuses a SQLite path that holds no database rather than creating one", func() {
		path := filepath.Join(GinkgoT().TempDir(), "missing.db")
		sess := run("", "audit", "verify", "--db", "sqlite:"+path)
		Expect(sess.ExitCode()).To(Equal(1))
		Expect(sess.Err).To(gbytes.Say("no database at"))
		Expect(path).NotTo(BeAnExistingFile())
	})
})

var _ = Describe("management usage", func() {
	// Every entry names a server that is not there: exit 2 (not 1) proves
	// the mistake was caught before any connection was tried.
	const nowhere = "https://127.0.0.1:1"

	DescribeTable("exits 2 with usage text before any network call",
		func(want string, args ...string) {
			sess := runEnv([]string{"RMS_PASSWORD=x"}, "", args...)
			Expect(sess.ExitCode()).To(Equal(2), string(sess.Err.Contents()))
			Expect(sess.Err).To(gbytes.Say(want))
			Expect(sess.Err).To(gbytes.Say("Usage: rmsctl"))
			Expect(sess.Out.Contents()).To(BeEmpty())
		},
		Entry("no --server", `rmsctl devices list: --server \(or RMS_SERVER\) is required`, "devices", "list"),
		Entry("plain http", `want an https:// base URL`, "devices", "list", "--server", "http://127.0.0.1:1"),
		Entry("a time that is not RFC 3339", `invalid value "yesterday" for flag -from: want an RFC 3339 time`,
			"devices", "history", "dev-1", "--from", "yesterday", "--server", nowhere),
		Entry("--from after --to", `--from 2026-02-01T00:00:00Z is after --to 2026-01-01T00:00:00Z`,
			"audit", "query", "--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z", "--server", nowhere),
		Entry("an unknown device state", `invalid value "broken" for flag -state: want one of ok, warning`,
			"devices", "list", "--state", "broken", "--server", nowhere),
		Entry("an unknown alarm state", `invalid value "open" for flag -state: want one of active, acknowledged, cleared`,
			"alarms", "list", "--state", "open", "--server", nowhere),
		Entry("an unknown severity", `invalid value "high" for flag -min-severity`, "alarms", "list", "--min-severity", "high", "--server", nowhere),
		Entry("an unknown instruction status", `invalid value "done" for flag -status`, "instructions", "list", "--status", "done", "--server", nowhere),
		Entry("an unknown upload kind", `invalid value "core" for flag -kind`, "uploads", "list", "--kind", "core", "--server", nowhere),
		Entry("a limit of 0", `invalid value "0" for flag -limit: want a number from 1 to 500`, "audit", "query", "--limit", "0", "--server", nowhere),
		Entry("a limit over the server's maximum", `invalid value "501" for flag -limit`, "devices", "list", "--limit", "501", "--server", nowhere),
		Entry("show without an id", `rmsctl devices show: missing ID`, "devices", "show", "--server", nowhere),
		Entry("show with two ids", `unexpected argument "b"`, "instructions", "show", "a", "b", "--server", nowhere),
		Entry("ack without an id", `rmsctl alarms ack: missing ID`, "alarms", "ack", "--server", nowhere),
		Entry("queue without a type", `missing TYPE`, "instructions", "queue", "dev-1", "--server", nowhere),
		Entry("a parameter without =", `parameter "selftest": want name=value`, "instructions", "queue", "dev-1", "T", "selftest", "--server", nowhere),
		Entry("a zero --ttl", `--ttl 0s: want whole seconds`, "instructions", "queue", "dev-1", "T", "--ttl", "0s", "--server", nowhere),
		Entry("a fractional --ttl", `--ttl 1.5s: want whole seconds`, "instructions", "queue", "dev-1", "T", "--ttl", "1.5s", "--server", nowhere),
		Entry("fetch without an id", `rmsctl uploads fetch: missing ID`, "uploads", "fetch", "--server", nowhere),
		Entry("--json on fetch", `flag provided but not defined: -json`, "uploads", "fetch", "u1", "--json", "--server", nowhere),
		Entry("register with an invalid id", `rmsctl devices register: device id "-x": want 1-64 of`,
			"devices", "register", "--server", nowhere, "--", "-x"),
		Entry("register with a long model", `--model is limited to 128 characters`,
			"devices", "register", "dev-1", "--model", strings.Repeat("m", 129), "--server", nowhere),
		Entry("revoke a serial that is not hex", `rmsctl devices revoke: serial "dev-0001": want the certificate serial number in hex`,
			"devices", "revoke", "dev-0001", "--server", nowhere),
		Entry("revoke without a serial", `rmsctl devices revoke: missing SERIAL`, "devices", "revoke", "--server", nowhere),
		Entry("cancel without an id", `rmsctl instructions cancel: missing ID`, "instructions", "cancel", "--server", nowhere),
		Entry("audit verify without --db", `rmsctl audit verify: --db \(or RMS_DB\) is required`, "audit", "verify"),
	)

	It("asks for a password when there is none, without connecting", func() {
		sess := run("", "devices", "list", "--server", nowhere)
		Expect(sess.ExitCode()).To(Equal(2))
		Expect(sess.Err).To(gbytes.Say("no password: set RMS_PASSWORD"))
	})

	DescribeTable("prints help on stdout and exits 0",
		func(want string, args ...string) {
			sess := run("", args...)
			Expect(sess.ExitCode()).To(Equal(0))
			Expect(sess.Out).To(gbytes.Say(want))
		},
		Entry("help lists the new groups",
			`(?s)devices list.*devices show.*devices history.*alarms list.*alarms ack.*alarms clear.*instructions queue.*`+
				`instructions show.*instructions list.*uploads list.*uploads fetch.*audit query.*audit verify`, "help"),
		Entry("help lists registration, revocation and cancel",
			`(?s)devices register.*devices revoke.*instructions cancel`, "help"),
		Entry("help for a group", `(?s)Usage: rmsctl alarms <command>.*\n  ack\s+Acknowledge an active alarm`, "help", "alarms"),
		Entry("-h on a remote verb", `(?s)Usage: rmsctl alarms ack ID \[--comment TEXT\] \[--server URL\].*RMS_PASSWORD.*--user`, "alarms", "ack", "-h"),
		Entry("-h on audit verify", `(?s)--db URL.*audit chain intact: N records`, "audit", "verify", "-h"),
	)
})
