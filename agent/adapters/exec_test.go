package adapters_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/adapters"
)

// script writes an executable /bin/sh script into a temp dir: the exec
// adapter is about real processes, so it is tested with real ones.
func script(body string) string {
	p := filepath.Join(GinkgoT().TempDir(), "status.sh")
	Expect(os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755)).To(Succeed())
	return p
}

var _ = Describe("Exec", func() {
	ctx := context.Background()
	var clk *fakeClock
	BeforeEach(func() { clk = newClock() })

	newExec := func(cfg adapters.ExecConfig) *adapters.Exec {
		cfg.Now = clk.Now
		e, err := adapters.NewExec(cfg)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(e.Close)
		return e
	}

	It("reads state, metrics with units, properties and error codes", func() {
		e := newExec(adapters.ExecConfig{Command: []string{script(`
echo '# a comment, then a blank line'
echo
echo 'state=warning'
echo 'metric.tube.temp=41.5 C'
echo 'metric.scans.total=1234'
echo 'property.fw=4.12.3'
echo 'property.lastPatient=PatientName=Doe^John'
echo 'error=E-101 critical Tube overheating at 86 C'
echo 'error=W-310 Reagent low'
echo 'clear=E-999'`)}})
		s, err := e.Poll(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Time).To(Equal(clk.Now()))
		Expect(s.State).To(Equal("warning"))
		Expect(s.Metrics).To(Equal([]agent.Metric{{Name: "tube.temp", Value: 41.5, Unit: "C"}, {Name: "scans.total", Value: 1234}}))
		Expect(s.Properties).To(Equal(map[string]string{"fw": "4.12.3", "lastPatient": "PatientName=[REDACTED:name]"}))
		Expect(s.Events).To(HaveLen(3))
		Expect(s.Events[0]).To(Equal(agent.Event{Code: "E-101", Severity: agent.SeverityCritical, Text: "Tube overheating at 86 C", Time: clk.Now()}))
		Expect(s.Events[1]).To(Equal(agent.Event{Code: "W-310", Severity: agent.SeverityMajor, Text: "Reagent low", Time: clk.Now()}),
			"a second word that is not a severity is text, with the default severity")
		Expect(s.Events[2].Cleared).To(BeTrue(), "a clear for an unknown code is sent once: the server may hold it from before a restart")
		Expect(e.BadLines()).To(BeZero())

		clk.Advance(time.Minute)
		s, err = e.Poll(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Events).To(BeEmpty(), "codes still active and clears already sent are not repeated")
	})

	It("clears codes by clear= or, with ClearAbsent, by no longer listing them; derives the state", func() {
		dir := GinkgoT().TempDir()
		out := filepath.Join(dir, "out.txt")
		write := func(s string) { Expect(os.WriteFile(out, []byte(s), 0o644)).To(Succeed()) }
		e := newExec(adapters.ExecConfig{Command: []string{"cat", out}, ClearAbsent: true})

		write("error=E-512 critical Gantry fault\nerror=E-214 major Calibration overdue\n")
		s, err := e.Poll(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(codes(s.Events)).To(Equal([]string{"E-512", "E-214"}))
		Expect(s.State).To(Equal("error"))

		write("error=E-214 major Calibration overdue\n")
		s, err = e.Poll(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(codes(s.Events)).To(Equal([]string{"E-512/cleared"}))
		Expect(s.Events[0].Severity).To(Equal(agent.SeverityCritical))
		Expect(s.State).To(Equal("warning"))

		write("error=E-214 minor Calibration overdue\nstate=ok\n")
		s, err = e.Poll(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(codes(s.Events)).To(Equal([]string{"E-214"}), "a changed severity is reported again")
		Expect(s.State).To(Equal("ok"), "an explicit state wins")

		write("clear=E-214\n")
		s, err = e.Poll(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(codes(s.Events)).To(Equal([]string{"E-214/cleared"}))
		Expect(s.State).To(Equal("ok"))
	})

	It("counts garbage lines without failing the poll", func() {
		e := newExec(adapters.ExecConfig{Command: []string{script(`
echo 'hello world'
echo 'metric.cpu=high'
echo 'metric.1bad=3'
echo 'metric.temp=20 degrees-celsius-long-unit'
echo 'state=sleepy'
echo 'error=!!'
echo 'colour=blue'
echo 'metric.cpu=12 %'
printf 'metric.nan=NaN\n'`)}})
		s, err := e.Poll(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Metrics).To(Equal([]agent.Metric{{Name: "cpu", Value: 12, Unit: "%"}}))
		Expect(s.State).To(Equal("ok"))
		Expect(e.BadLines()).To(BeEquivalentTo(8))
		_, err = e.Poll(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(e.BadLines()).To(BeEquivalentTo(16))
	})

	It("caps the output it reads and drops the cut-off last line", func() {
		e := newExec(adapters.ExecConfig{MaxOutputBytes: 4096, Command: []string{script(`
echo 'metric.first=1'
i=0
while [ $i -lt 20000 ]; do echo "metric.m$i=123456789"; i=$((i+1)); done
echo 'metric.last=2'`)}})
		s, err := e.Poll(ctx)
		Expect(err).NotTo(HaveOccurred(), "the command finishes because the rest of its output is drained")
		first, ok := metric(s, "first")
		Expect(ok).To(BeTrue())
		Expect(first.Value).To(BeEquivalentTo(1))
		_, ok = metric(s, "last")
		Expect(ok).To(BeFalse())
		Expect(len(s.Metrics)).To(BeNumerically("<", 4096/10))
		for _, m := range s.Metrics[1:] {
			Expect(m.Value).To(BeEquivalentTo(123456789), "no truncated value for %s", m.Name)
		}
		Expect(e.BadLines()).To(BeZero())
	})

	It("kills the whole process group on timeout", func() {
		pidFile := filepath.Join(GinkgoT().TempDir(), "child.pid")
		e := newExec(adapters.ExecConfig{Timeout: 300 * time.Millisecond, Command: []string{script(`
sleep 60 &
echo $! > ` + pidFile + `
echo 'metric.cpu=1'
wait`)}})
		_, err := e.Poll(ctx)
		Expect(err).To(MatchError(ContainSubstring("timeout")))
		data, rerr := os.ReadFile(pidFile)
		Expect(rerr).NotTo(HaveOccurred())
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		Expect(pid).To(BeNumerically(">", 1))
		Eventually(func() bool { return gone(pid) }).Should(BeTrue(), "the script's child is killed too")
	})

	It("turns a non-zero exit into a poll error with an excerpt of stderr, redacted", func() {
		e := newExec(adapters.ExecConfig{Command: []string{script(`
echo 'metric.cpu=1'
echo 'device not ready' >&2
echo 'last patient MRN: 12345678' >&2
exit 3`)}})
		_, err := e.Poll(ctx)
		Expect(err).To(MatchError(ContainSubstring("exit status 3: device not ready last patient MRN: [REDACTED:mrn]")))
	})

	It("reports a command that cannot start", func() {
		e := newExec(adapters.ExecConfig{Command: []string{filepath.Join(GinkgoT().TempDir(), "missing")}})
		_, err := e.Poll(ctx)
		Expect(err).To(MatchError(ContainSubstring("missing")))
	})

	It("passes Env and Dir, and filters by the collect list", func() {
		dir := GinkgoT().TempDir()
		e := newExec(adapters.ExecConfig{Dir: dir, Env: []string{"RMS_TEST=7"},
			Common:  adapters.Common{Collect: []string{"env", "where"}},
			Command: []string{"/bin/sh", "-c", `echo "metric.env=$RMS_TEST"; echo "metric.other=1"; echo "property.where=$(pwd)"; echo "property.secret=x"`}})
		s, err := e.Poll(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Metrics).To(Equal([]agent.Metric{{Name: "env", Value: 7}}))
		real, _ := filepath.EvalSymlinks(dir)
		Expect(s.Properties).To(HaveLen(1))
		Expect(s.Properties["where"]).To(BeElementOf(dir, real))
	})

	It("lists the configured log files that exist, as absolute paths", func() {
		dir := GinkgoT().TempDir()
		for _, n := range []string{"a.log", "a.log.1", "b.txt"} {
			Expect(os.WriteFile(filepath.Join(dir, n), nil, 0o644)).To(Succeed())
		}
		e := newExec(adapters.ExecConfig{Command: []string{"true"}, LogFiles: []string{filepath.Join(dir, "a.log*"), filepath.Join(dir, "none.log")}})
		Expect(e.LogFiles()).To(Equal([]string{filepath.Join(dir, "a.log"), filepath.Join(dir, "a.log.1")}))
	})

	DescribeTable("refuses bad configurations",
		func(cfg adapters.ExecConfig, msg string) {
			_, err := adapters.NewExec(cfg)
			Expect(err).To(MatchError(ContainSubstring(msg)))
		},
		Entry("no command", adapters.ExecConfig{}, "command is empty"),
		Entry("negative timeout", adapters.ExecConfig{Command: []string{"true"}, Timeout: -1}, "negative"),
		Entry("bad env", adapters.ExecConfig{Command: []string{"true"}, Env: []string{"NOEQUALS"}}, "KEY=VALUE"),
		Entry("bad severity", adapters.ExecConfig{Command: []string{"true"}, DefaultSeverity: "urgent"}, `"urgent"`),
		Entry("bad log glob", adapters.ExecConfig{Command: []string{"true"}, LogFiles: []string{"[x"}}, "log file pattern"),
	)
})

// gone reports whether pid no longer runs (exited, or a zombie waiting
// for init to reap it).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}
