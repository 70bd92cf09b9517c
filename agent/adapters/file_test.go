package adapters_test

import (
	"context"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/adapters"
)

func appendTo(path, text string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	Expect(err).NotTo(HaveOccurred())
	_, err = f.WriteString(text)
	Expect(err).NotTo(HaveOccurred())
	Expect(f.Close()).To(Succeed())
}

var _ = Describe("File", func() {
	ctx := context.Background()
	var (
		clk *fakeClock
		dir string
		log string
	)
	BeforeEach(func() {
		clk = newClock()
		dir = GinkgoT().TempDir()
		log = filepath.Join(dir, "device.log")
	})

	patterns := []adapters.LogPattern{
		{Regexp: `ERROR \[\w+\] (?P<code>E-\d+) `, Severity: agent.SeverityCritical},
		{Regexp: `WARN +\[\w+\] (?P<code>W-\d+) `, Severity: agent.SeverityWarning},
		{Regexp: `(?P<code>[EW]-\d+) cleared`, Clears: true},
		{Regexp: `watchdog reset`, Code: "WDT", Severity: agent.SeverityMajor},
	}

	newFile := func(cfg adapters.FileConfig) *adapters.File {
		cfg.Now = clk.Now
		f, err := adapters.NewFile(cfg)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(f.Close)
		return f
	}
	poll := func(f *adapters.File) agent.Sample {
		clk.Advance(time.Minute)
		s, err := f.Poll(ctx)
		Expect(err).NotTo(HaveOccurred())
		return s
	}

	Describe("status file", func() {
		var status string
		BeforeEach(func() { status = filepath.Join(dir, "status") })
		write := func(s string) { Expect(os.WriteFile(status, []byte(s), 0o644)).To(Succeed()) }

		It("is re-read every poll and filtered by the collect list", func() {
			write("state=ok\nmetric.cpu=12 %\nmetric.tube.temp=40 C\nproperty.fw=1.0\nproperty.serial=X1\nbogus line\n")
			f := newFile(adapters.FileConfig{StatusFile: status, Common: adapters.Common{Collect: []string{"tube.temp", "fw"}}})
			s := poll(f)
			Expect(s.State).To(Equal("ok"))
			Expect(s.Metrics).To(Equal([]agent.Metric{{Name: "tube.temp", Value: 40, Unit: "C"}}))
			Expect(s.Properties).To(Equal(map[string]string{"fw": "1.0"}))
			Expect(f.BadLines()).To(BeEquivalentTo(1))

			write("state=maintenance\nmetric.tube.temp=44 C\nproperty.fw=1.1\nerror=E-214 major Calibration overdue\n")
			s = poll(f)
			Expect(s.State).To(Equal("maintenance"))
			Expect(s.Metrics).To(Equal([]agent.Metric{{Name: "tube.temp", Value: 44, Unit: "C"}}))
			Expect(s.Properties).To(Equal(map[string]string{"fw": "1.1"}))
			Expect(codes(s.Events)).To(Equal([]string{"E-214"}))
		})

		It("fails the poll when the file is missing or stale", func() {
			f := newFile(adapters.FileConfig{StatusFile: status, StaleAfter: 5 * time.Minute})
			_, err := f.Poll(ctx)
			Expect(err).To(MatchError(ContainSubstring("status file")))

			write("state=ok\n")
			fi, err := os.Stat(status)
			Expect(err).NotTo(HaveOccurred())
			clk.t = fi.ModTime().Add(time.Minute)
			_, err = f.Poll(ctx)
			Expect(err).NotTo(HaveOccurred())
			clk.Advance(10 * time.Minute)
			_, err = f.Poll(ctx)
			Expect(err).To(MatchError(ContainSubstring("not updated for 11m0s")))
		})
	})

	Describe("log tailing", func() {
		It("starts at the end, then reports new matching lines with their severity, once per code per poll", func() {
			appendTo(log, "2026-03-01 11:00:00.000 ERROR [svc] E-101 old news, before the agent started\n")
			f := newFile(adapters.FileConfig{Logs: []string{log}, Patterns: patterns})
			Expect(poll(f).Events).To(BeEmpty())

			appendTo(log, "2026-03-01 12:01:00.000 INFO  [acq] Scan 12 completed\n"+
				"2026-03-01 12:01:01.000 ERROR [svc] E-101 X-ray tube overheating\n"+
				"2026-03-01 12:01:02.000 ERROR [svc] E-101 X-ray tube overheating\n"+
				"2026-03-01 12:01:03.000 WARN  [svc] W-310 Reagent low\n"+
				"2026-03-01 12:01:04.000 INFO  [sys] watchdog reset by firmware\n")
			s := poll(f)
			Expect(codes(s.Events)).To(Equal([]string{"E-101", "W-310", "WDT"}))
			Expect(s.Events[0].Severity).To(Equal(agent.SeverityCritical))
			Expect(s.Events[0].Text).To(Equal("2026-03-01 12:01:01.000 ERROR [svc] E-101 X-ray tube overheating"))
			Expect(s.Events[0].Context).To(Equal(map[string]string{"log": "device.log", "count": "2"}))
			Expect(s.Events[0].Time).To(Equal(clk.Now()))
			Expect(s.Events[1].Severity).To(Equal(agent.SeverityWarning))
			Expect(s.Events[2].Severity).To(Equal(agent.SeverityMajor))

			Expect(poll(f).Events).To(BeEmpty(), "nothing new, nothing reported")

			appendTo(log, "2026-03-01 12:03:00.000 INFO  [svc] E-101 cleared\n2026-03-01 12:03:01.000 ERROR [svc] E-5")
			s = poll(f)
			Expect(codes(s.Events)).To(Equal([]string{"E-101/cleared"}))
			Expect(s.Events[0].Severity).To(Equal(agent.SeverityMajor))

			appendTo(log, "12 Gantry fault\n")
			Expect(codes(poll(f).Events)).To(Equal([]string{"E-512"}), "a line is matched only once it is complete")
		})

		It("redacts patient identifiers in the event text", func() {
			f := newFile(adapters.FileConfig{Logs: []string{log}, Patterns: patterns, FromStart: true})
			appendTo(log, "ERROR [mwl] E-405 worklist rejected PatientName=Doe^John MRN: 12345678\n")
			s := poll(f)
			Expect(s.Events).To(HaveLen(1))
			Expect(s.Events[0].Text).To(Equal("ERROR [mwl] E-405 worklist rejected PatientName=[REDACTED:name] MRN: [REDACTED:mrn]"))
		})

		It("follows a rename rotation, reading the rest of the old file first", func() {
			appendTo(log, "start\n")
			f := newFile(adapters.FileConfig{Logs: []string{log}, Patterns: patterns})
			Expect(poll(f).Events).To(BeEmpty())

			appendTo(log, "ERROR [svc] E-101 written just before rotation\n")
			Expect(os.Rename(log, log+".1")).To(Succeed())
			appendTo(log, "ERROR [svc] E-512 written to the new file\n")
			Expect(codes(poll(f).Events)).To(Equal([]string{"E-101", "E-512"}))

			appendTo(log, "WARN  [svc] W-122 later\n")
			Expect(codes(poll(f).Events)).To(Equal([]string{"W-122"}))
			Expect(f.LogFiles()).To(Equal([]string{log, log + ".1"}))
		})

		It("reads a log that was missing at start, and one recreated after a rotation, from the start", func() {
			f := newFile(adapters.FileConfig{Logs: []string{log}, Patterns: patterns})
			Expect(poll(f).Events).To(BeEmpty())
			appendTo(log, "ERROR [svc] E-101 first line of a new file\n")
			Expect(codes(poll(f).Events)).To(Equal([]string{"E-101"}))

			Expect(os.Rename(log, log+".1")).To(Succeed())
			Expect(poll(f).Events).To(BeEmpty())
			appendTo(log, "ERROR [svc] E-512 recreated\n")
			Expect(codes(poll(f).Events)).To(Equal([]string{"E-512"}))
		})

		It("starts from 0 after a truncation", func() {
			appendTo(log, "some old lines that make the file long enough\nmore old lines\n")
			f := newFile(adapters.FileConfig{Logs: []string{log}, Patterns: patterns})
			Expect(poll(f).Events).To(BeEmpty())
			Expect(os.Truncate(log, 0)).To(Succeed())
			appendTo(log, "ERROR [svc] E-7 short\n")
			Expect(codes(poll(f).Events)).To(Equal([]string{"E-7"}))
		})

		It("bounds how much one poll reads; the rest comes next poll", func() {
			f := newFile(adapters.FileConfig{Logs: []string{log}, Patterns: patterns, MaxReadBytes: 64, FromStart: true})
			appendTo(log, "ERROR [svc] E-1 one\nERROR [svc] E-2 two\nERROR [svc] E-3 three\nERROR [svc] E-4 four\n")
			first := codes(poll(f).Events)
			second := codes(poll(f).Events)
			Expect(first).To(Equal([]string{"E-1", "E-2", "E-3"}))
			Expect(second).To(Equal([]string{"E-4"}))
		})

		It("remembers offsets across restarts with a state file", func() {
			state := filepath.Join(dir, "tail.json")
			cfg := adapters.FileConfig{Logs: []string{log}, Patterns: patterns, StateFile: state}
			appendTo(log, "ERROR [svc] E-1 before the first start\n")
			f1 := newFile(cfg)
			Expect(poll(f1).Events).To(BeEmpty())
			appendTo(log, "ERROR [svc] E-2 seen by the first run\n")
			Expect(codes(poll(f1).Events)).To(Equal([]string{"E-2"}))
			Expect(f1.Close()).To(Succeed())

			appendTo(log, "ERROR [svc] E-3 written while the agent was down\n")
			f2 := newFile(cfg)
			Expect(codes(poll(f2).Events)).To(Equal([]string{"E-3"}), "neither E-1/E-2 again nor E-3 lost")
			Expect(f2.Close()).To(Succeed())

			// Rotated while down: the new file is read from its start.
			Expect(os.Rename(log, log+".1")).To(Succeed())
			appendTo(log, "ERROR [svc] E-4 in the new file\n")
			f3 := newFile(cfg)
			Expect(codes(poll(f3).Events)).To(Equal([]string{"E-4"}))
		})

		It("re-reports the last poll after a crash rather than lose it", func() {
			state := filepath.Join(dir, "tail.json")
			cfg := adapters.FileConfig{Logs: []string{log}, Patterns: patterns, StateFile: state}
			appendTo(log, "start\n")
			f1 := newFile(cfg)
			poll(f1)
			poll(f1) // commits the offset at the end of "start"
			appendTo(log, "ERROR [svc] E-9 read, then the agent is killed\n")
			Expect(codes(poll(f1).Events)).To(Equal([]string{"E-9"}))
			// No Close: a kill -9 saves nothing more.
			f2 := newFile(cfg)
			Expect(codes(poll(f2).Events)).To(Equal([]string{"E-9"}))
		})

		It("tails the simulator's log: the adapters fit together", func() {
			simDir := GinkgoT().TempDir()
			sim, err := adapters.NewSimulator(adapters.SimulatorConfig{Seed: 9, ErrorRate: 1, ClearRate: 1, LogDir: simDir, Common: adapters.Common{Now: clk.Now}})
			Expect(err).NotTo(HaveOccurred())
			f := newFile(adapters.FileConfig{Logs: []string{filepath.Join(simDir, "device.log")}, FromStart: true, Patterns: []adapters.LogPattern{
				{Regexp: `(?:ERROR|WARN ) \[svc\] (?P<code>[EW]-\d+) `},
				{Regexp: `\[svc\] (?P<code>[EW]-\d+) cleared`, Clears: true},
			}})
			var fromSim, fromLog []string
			for range 20 {
				s, err := sim.Poll(ctx)
				Expect(err).NotTo(HaveOccurred())
				for _, e := range s.Events {
					if e.Severity != agent.SeverityInfo {
						fromSim = append(fromSim, codes([]agent.Event{e})...)
					}
				}
				fromLog = append(fromLog, codes(poll(f).Events)...)
			}
			Expect(fromSim).NotTo(BeEmpty())
			Expect(fromLog).To(Equal(fromSim))
		})
	})

	DescribeTable("refuses bad configurations",
		func(cfg adapters.FileConfig, msg string) {
			_, err := adapters.NewFile(cfg)
			Expect(err).To(MatchError(ContainSubstring(msg)))
		},
		Entry("nothing to read", adapters.FileConfig{}, "statusFile, logs or both"),
		Entry("patterns without logs", adapters.FileConfig{StatusFile: "s", Patterns: []adapters.LogPattern{{Regexp: "x", Code: "X"}}}, "need logs"),
		Entry("no code group", adapters.FileConfig{Logs: []string{"l"}, Patterns: []adapters.LogPattern{{Regexp: "ERROR"}}}, "no (?P<code>"),
		Entry("bad regexp", adapters.FileConfig{Logs: []string{"l"}, Patterns: []adapters.LogPattern{{Regexp: "("}}}, "patterns[0]"),
		Entry("bad fixed code", adapters.FileConfig{Logs: []string{"l"}, Patterns: []adapters.LogPattern{{Regexp: "x", Code: "a b"}}}, `code "a b"`),
		Entry("bad severity", adapters.FileConfig{Logs: []string{"l"}, Patterns: []adapters.LogPattern{{Regexp: "x", Code: "X", Severity: "loud"}}}, `"loud"`),
		Entry("log twice", adapters.FileConfig{Logs: []string{"/a/l", "/a/../a/l"}}, "twice"),
	)
})

var _ = Describe("New", func() {
	It("builds each kind, passing the common settings down", func() {
		clk := newClock()
		a, err := adapters.New("simulator", adapters.Config{Common: adapters.Common{Collect: []string{"cpu"}, Now: clk.Now},
			Simulator: adapters.SimulatorConfig{Seed: 1}})
		Expect(err).NotTo(HaveOccurred())
		s, err := a.Poll(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(metricNames(s)).To(Equal([]string{"cpu"}))
		Expect(s.Time).To(Equal(clk.Now()))

		a, err = adapters.New("exec", adapters.Config{Exec: adapters.ExecConfig{Command: []string{"true"}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(a).To(BeAssignableToTypeOf(&adapters.Exec{}))
		_, err = adapters.New("file", adapters.Config{})
		Expect(err).To(MatchError(ContainSubstring("adapters.NewFile")))
		_, err = adapters.New("snmp", adapters.Config{})
		Expect(err).To(MatchError(ContainSubstring(`unknown adapter kind "snmp"`)))
	})
})
