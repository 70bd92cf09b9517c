package executors_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/executors"
	"github.com/rmsproject/rms/agent/redact"
	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/soapclient"
)

var _ = Describe("executors", func() {
	var (
		dir       string
		execs     map[string]agent.Executor
		intervals map[string]time.Duration
		restarted bool
		client    *soapclient.Device
		ctx       = context.Background()
	)
	run := func(typ string, params map[string]string) agent.Result {
		return execs[typ].Execute(ctx, "dev-0001", agent.Instruction{ID: "in-1", Type: typ, Parameters: params})
	}
	BeforeEach(func() {
		dir = GinkgoT().TempDir()
		intervals, restarted, client = map[string]time.Duration{}, false, nil
		settings, err := executors.OpenSettings(filepath.Join(dir, "settings.json"))
		Expect(err).NotTo(HaveOccurred())
		r := redact.Default()
		Expect(os.MkdirAll(filepath.Join(dir, "logs"), 0o755)).To(Succeed())
		execs, err = executors.New(executors.Config{
			Diagnostics: map[string]executors.Diagnostic{
				"echo":   {Command: []string{"sh", "-c", "echo hello; echo oops >&2"}},
				"fail":   {Command: []string{"sh", "-c", "echo broken; exit 3"}},
				"hang":   {Command: []string{"sh", "-c", "sleep 30 & sleep 30"}, Timeout: 300 * time.Millisecond},
				"flood":  {Command: []string{"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"}},
				"latin1": {Command: []string{"sh", "-c", "head -c 16000 /dev/zero | tr '\\0' '\\351'"}},
			},
			UploadGlobs: []string{filepath.Join(dir, "logs", "*.log")},
			Redact: func(dst io.Writer, src io.Reader) error {
				_, err := r.Copy(dst, src)
				return err
			},
			StagingDir: filepath.Join(dir, "staging"), Settings: settings, SettableKeys: []string{"site_note"},
			Hooks: executors.Hooks{
				Client:      func(string) *soapclient.Device { return client },
				SetInterval: func(id string, d time.Duration) error { intervals[id] = d; return nil },
				Restart:     func() { restarted = true },
			},
		})
		Expect(err).NotTo(HaveOccurred())
	})

	Describe("RunDiagnostic", func() {
		It("runs a configured command and returns its output and exit code", func() {
			r := run("RunDiagnostic", map[string]string{"name": "echo"})
			Expect(r.Status).To(Equal("succeeded"))
			Expect(r.Output).To(ContainSubstring("hello"))
			Expect(r.Output).To(ContainSubstring("oops"))
			r = run("RunDiagnostic", map[string]string{"name": "fail"})
			Expect(r.Status).To(Equal("failed"))
			Expect(r.ExitCode).To(Equal(3))
		})
		It("rejects a name that is not configured, naming those that are", func() {
			r := run("RunDiagnostic", map[string]string{"name": "rm -rf /"})
			Expect(r.Status).To(Equal("rejected"))
			Expect(r.Output).To(ContainSubstring("echo, fail, flood, hang"))
		})
		It("kills a command past its timeout, children too", func() {
			r := run("RunDiagnostic", map[string]string{"name": "hang"})
			Expect(r.Status).To(Equal("failed"))
			Expect(r.Output).To(ContainSubstring("timed out"))
		})
		It("sends output that is not UTF-8 as valid UTF-8 within MaxOutput", func() {
			r := run("RunDiagnostic", map[string]string{"name": "latin1"})
			Expect(r.Status).To(Equal("succeeded"))
			Expect(utf8.ValidString(r.Output)).To(BeTrue())
			Expect(len(r.Output)).To(BeNumerically("<=", executors.MaxOutput))
			Expect(r.Output).To(HaveSuffix("[output truncated]"))
		})
		It("caps the output at MaxOutput and says so", func() {
			r := run("RunDiagnostic", map[string]string{"name": "flood"})
			Expect(r.Status).To(Equal("succeeded"))
			Expect(len(r.Output)).To(Equal(executors.MaxOutput))
			Expect(r.Output).To(HaveSuffix("[output truncated]"))
		})
	})

	Describe("SetHeartbeatInterval and SetConfiguration", func() {
		DescribeTable("accepts the interval at its edges and refuses past them",
			func(seconds string, status string) {
				Expect(run("SetHeartbeatInterval", map[string]string{"seconds": seconds}).Status).To(Equal(status))
			},
			Entry("minimum", "10", "succeeded"),
			Entry("below", "9", "rejected"),
			Entry("maximum", "86400", "succeeded"),
			Entry("above", "86401", "rejected"),
			Entry("not a number", "soon", "rejected"),
		)
		It("persists the interval and applies it", func() {
			Expect(run("SetHeartbeatInterval", map[string]string{"seconds": "120"}).Status).To(Equal("succeeded"))
			Expect(intervals["dev-0001"]).To(Equal(2 * time.Minute))
			again, err := executors.OpenSettings(filepath.Join(dir, "settings.json"))
			Expect(err).NotTo(HaveOccurred())
			v, ok := again.Get("dev-0001", "heartbeat_interval")
			Expect(ok).To(BeTrue())
			Expect(v).To(Equal("120"))
		})
		It("stores only allow-listed keys, all or none", func() {
			Expect(run("SetConfiguration", map[string]string{"site_note": "ward 3"}).Status).To(Equal("succeeded"))
			r := run("SetConfiguration", map[string]string{"site_note": "x", "server": "https://evil"})
			Expect(r.Status).To(Equal("rejected"))
			Expect(r.Output).To(ContainSubstring(`"server"`))
			again, err := executors.OpenSettings(filepath.Join(dir, "settings.json"))
			Expect(err).NotTo(HaveOccurred())
			v, ok := again.Get("dev-0001", "site_note")
			Expect(ok).To(BeTrue())
			Expect(v).To(Equal("ward 3"))
		})
	})

	It("RestartAgent asks for the restart only once the result is queued", func() {
		r := run("RestartAgent", nil)
		Expect(r.Status).To(Equal("succeeded"))
		Expect(restarted).To(BeFalse())
		r.Then()
		Expect(restarted).To(BeTrue())
	})

	Describe("UploadFile", func() {
		It("refuses paths off the allow-list, relative paths and symlinks leading off it", func() {
			outside := filepath.Join(dir, "secret.txt")
			Expect(os.WriteFile(outside, []byte("x"), 0o600)).To(Succeed())
			link := filepath.Join(dir, "logs", "sneaky.log")
			Expect(os.Symlink(outside, link)).To(Succeed())
			for _, p := range []string{outside, "logs/a.log", link, filepath.Join(dir, "logs", "..", "secret.txt")} {
				Expect(run("UploadFile", map[string]string{"path": p}).Status).To(Equal("rejected"), p)
			}
		})
		It("uploads an allowed log redacted and compressed, and the server serves it back", func() {
			s := testserver.Start(serverBin, testserver.Options{})
			client = s.Device("dev-0001")
			log := filepath.Join(dir, "logs", "scanner.log")
			content := strings.Repeat("10:00:01 E-101 tube hot\n", 20000) + "10:00:02 study for PatientName=Doe^John MRN: 12345678\n"
			Expect(os.WriteFile(log, []byte(content), 0o600)).To(Succeed())
			r := run("UploadFile", map[string]string{"path": log})
			Expect(r.Status).To(Equal("succeeded"), r.Output)
			Expect(r.UploadID).NotTo(BeEmpty())
			var got []byte
			for off := int64(0); ; {
				f, err := s.Manager().FetchUpload(ctx, &management.FetchUpload{UploadId: r.UploadID, Offset: off})
				Expect(err).NotTo(HaveOccurred())
				data, err := soapclient.DecodeBase64Binary(f.Data)
				Expect(err).NotTo(HaveOccurred())
				got, off = append(got, data...), off+int64(len(data))
				if f.Eof {
					break
				}
			}
			Expect(string(got)).To(HavePrefix("10:00:01 E-101 tube hot\n"))
			Expect(string(got)).NotTo(ContainSubstring("Doe^John"))
			Expect(string(got)).NotTo(ContainSubstring("12345678"))
			Expect(filepath.Join(dir, "staging")).To(BeADirectory())
			staged, _ := filepath.Glob(filepath.Join(dir, "staging", "*.gz"))
			Expect(staged).To(BeEmpty(), "the staged copy is removed once committed")
		})
	})
})
