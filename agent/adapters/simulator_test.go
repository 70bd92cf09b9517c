package adapters_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/adapters"
	"github.com/rmsproject/rms/agent/redact"
)

var _ = Describe("Simulator", func() {
	ctx := context.Background()

	run := func(cfg adapters.SimulatorConfig, polls int) ([]agent.Sample, *fakeClock) {
		clk := newClock()
		cfg.Now = clk.Now
		sim, err := adapters.NewSimulator(cfg)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sim.Close)
		var out []agent.Sample
		for range polls {
			clk.Advance(time.Minute)
			s, err := sim.Poll(ctx)
			Expect(err).NotTo(HaveOccurred())
			out = append(out, s)
		}
		return out, clk
	}

	It("is deterministic for a seed: same samples, same log bytes", func() {
		dirA, dirB := GinkgoT().TempDir(), GinkgoT().TempDir()
		a, _ := run(adapters.SimulatorConfig{Seed: 42, ErrorRate: 0.3, LogDir: dirA}, 200)
		b, _ := run(adapters.SimulatorConfig{Seed: 42, ErrorRate: 0.3, LogDir: dirB}, 200)
		Expect(a).To(Equal(b))
		la, err := os.ReadFile(filepath.Join(dirA, "device.log"))
		Expect(err).NotTo(HaveOccurred())
		lb, err := os.ReadFile(filepath.Join(dirB, "device.log"))
		Expect(err).NotTo(HaveOccurred())
		Expect(la).To(Equal(lb))

		c, _ := run(adapters.SimulatorConfig{Seed: 43, ErrorRate: 0.3}, 200)
		Expect(c).NotTo(Equal(a))
	})

	DescribeTable("keeps metrics in bounds and counters monotonic over a long run",
		func(profile string, bounds map[string][2]float64, counters []string) {
			samples, _ := run(adapters.SimulatorConfig{Profile: profile, Seed: 7, ErrorRate: 0.1, MaintenanceRate: 0.01, LogLinesPerPoll: -1}, 5000)
			last := map[string]float64{}
			moved := map[string]bool{}
			for i, s := range samples {
				for name, b := range bounds {
					m, ok := metric(s, name)
					Expect(ok).To(BeTrue(), name)
					Expect(m.Value).To(And(BeNumerically(">=", b[0]), BeNumerically("<=", b[1])), "%s at poll %d", name, i)
					if i > 0 && m.Value != last[name] {
						moved[name] = true
					}
					last[name] = m.Value
				}
				for _, c := range counters {
					m, _ := metric(s, c)
					Expect(m.Value).To(BeNumerically(">=", last[c]), "%s went backwards at poll %d", c, i)
					last[c] = m.Value
				}
				up, _ := metric(s, "uptime")
				Expect(up.Value).To(BeNumerically("==", float64((i+1)*60)), "uptime follows the injected clock")
				Expect(s.State).To(BeElementOf("ok", "warning", "error", "maintenance"))
			}
			for name := range bounds {
				Expect(moved).To(HaveKey(name), "%s never drifted", name)
			}
			for _, c := range counters {
				Expect(last[c]).To(BeNumerically(">", 0), "%s never counted", c)
			}
		},
		Entry("imaging", adapters.ProfileImaging, map[string][2]float64{
			"tube.temp": {20, 98}, "detector.temp": {18, 42}, "cpu": {1, 100}, "mem": {10, 95}, "disk.used": {0, 100}},
			[]string{"scans.total", "exposures.total"}),
		Entry("lab", adapters.ProfileLab, map[string][2]float64{
			"incubator.temp": {35.5, 38.5}, "reagent.level": {0, 100}, "cpu": {1, 100}, "mem": {10, 95}, "disk.used": {0, 100}},
			[]string{"samples.total", "tests.total"}),
	)

	It("raises error codes, clears them later, and derives the state from what is active", func() {
		samples, _ := run(adapters.SimulatorConfig{Seed: 3, ErrorRate: 0.5, ClearRate: 0.2, MaintenanceRate: 0.02, LogLinesPerPoll: -1}, 3000)
		active := map[string]agent.Severity{}
		raised, cleared, critical := 0, 0, 0
		for i, s := range samples {
			for _, e := range s.Events {
				Expect(e.Text).NotTo(BeEmpty())
				Expect(e.Time).To(Equal(s.Time))
				if e.Cleared {
					Expect(active).To(HaveKey(e.Code), "poll %d cleared %s that was not raised", i, e.Code)
					delete(active, e.Code)
					cleared++
					continue
				}
				Expect(active).NotTo(HaveKey(e.Code), "poll %d raised %s twice", i, e.Code)
				active[e.Code] = e.Severity
				raised++
				if e.Severity == agent.SeverityCritical {
					critical++
				}
			}
			want := "ok"
			for code, sev := range active {
				if code == "I-901" {
					continue
				}
				if sev == agent.SeverityCritical {
					want = "error"
					break
				}
				if sev != agent.SeverityInfo {
					want = "warning"
				}
			}
			if _, ok := active["I-901"]; ok {
				want = "maintenance"
			}
			Expect(s.State).To(Equal(want), "poll %d with %v", i, active)
		}
		Expect(raised).To(BeNumerically(">", 100))
		Expect(cleared).To(BeNumerically(">", 100))
		Expect(critical).To(BeNumerically(">", 0))
	})

	It("raises E-101 critical when the tube overheats and clears it once it cools", func() {
		samples, _ := run(adapters.SimulatorConfig{Seed: 11, ErrorRate: -1, MaintenanceRate: -1, LogLinesPerPoll: -1}, 20000)
		var seen []string
		for _, s := range samples {
			for _, e := range s.Events {
				if e.Code == "E-101" {
					seen = append(seen, codes([]agent.Event{e})...)
					if !e.Cleared {
						Expect(e.Severity).To(Equal(agent.SeverityCritical))
						Expect(e.Context).To(HaveKeyWithValue("threshold", "85"))
						Expect(s.State).To(Equal("error"))
					}
				}
			}
		}
		Expect(seen).To(ContainElements("E-101", "E-101/cleared"))
	})

	It("grows a log with patient-like lines and rotates it at the cap", func() {
		dir := GinkgoT().TempDir()
		clk := newClock()
		sim, err := adapters.NewSimulator(adapters.SimulatorConfig{Seed: 5, Common: adapters.Common{Now: clk.Now}, LogDir: dir, LogMaxBytes: 4096, LogKeep: 2, PatientDataRate: 0.5})
		Expect(err).NotTo(HaveOccurred())
		var sizes []int64
		for range 10 {
			_, err := sim.Poll(ctx)
			Expect(err).NotTo(HaveOccurred())
			fi, err := os.Stat(filepath.Join(dir, "device.log"))
			Expect(err).NotTo(HaveOccurred())
			sizes = append(sizes, fi.Size())
		}
		Expect(sizes).To(HaveEach(BeNumerically(">", 0)))
		Expect(sizes[9]).To(BeNumerically(">", sizes[0]), "the log grows")

		for range 300 {
			_, err := sim.Poll(ctx)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(sim.LogFiles()).To(Equal([]string{filepath.Join(dir, "device.log"), filepath.Join(dir, "device.log.1"), filepath.Join(dir, "device.log.2")}))
		var all strings.Builder
		for _, f := range sim.LogFiles() {
			fi, err := os.Stat(f)
			Expect(err).NotTo(HaveOccurred())
			Expect(fi.Size()).To(BeNumerically("<=", 4096), f)
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			all.Write(data)
		}
		text := all.String()
		Expect(text).To(ContainSubstring("2026-03-01 12:00:00.000 "), "timestamps come from the injected clock")
		Expect(text).To(MatchRegexp(`PatientName=\S+\^`))
		Expect(text).To(ContainSubstring("PID|1||"))
		Expect(text).To(ContainSubstring("MRN: "))

		// The redaction filter removes every fake patient the simulator wrote.
		clean := redact.Default().Line(text)
		for _, name := range []string{"Doe^John", "Roe^Jane", "Smith^Anna", "Garcia^Maria", "Müller^Hans", "Okafor^Chidi"} {
			Expect(clean).NotTo(ContainSubstring(name))
		}
		Expect(clean).NotTo(MatchRegexp(`MRN: \d`))
		Expect(clean).To(ContainSubstring("[REDACTED:name]"))
	})

	It("sends only the metrics and properties in the collect list", func() {
		samples, _ := run(adapters.SimulatorConfig{Seed: 1, Common: adapters.Common{Collect: []string{"tube.*", "scans.total", "serial"}}}, 3)
		for _, s := range samples {
			Expect(metricNames(s)).To(ConsistOf("tube.temp", "scans.total"))
			Expect(s.Properties).To(HaveLen(1))
			Expect(s.Properties).To(HaveKey("serial"))
		}
		all, _ := run(adapters.SimulatorConfig{Seed: 1}, 1)
		Expect(metricNames(all[0])).To(ContainElements("tube.temp", "detector.temp", "cpu", "mem", "disk.used", "scans.total", "uptime"))
		Expect(all[0].Properties).To(HaveKeyWithValue("model", "SimScan CT-64"))
	})

	It("reports a cancelled context", func() {
		sim, err := adapters.NewSimulator(adapters.SimulatorConfig{Seed: 1})
		Expect(err).NotTo(HaveOccurred())
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = sim.Poll(cctx)
		Expect(err).To(MatchError(context.Canceled))
	})

	DescribeTable("refuses bad configurations",
		func(cfg adapters.SimulatorConfig, msg string) {
			_, err := adapters.NewSimulator(cfg)
			Expect(err).To(MatchError(ContainSubstring(msg)))
		},
		Entry("profile", adapters.SimulatorConfig{Profile: "mri"}, `profile "mri"`),
		Entry("rate above 1", adapters.SimulatorConfig{ErrorRate: 2}, "errorRate 2 is above 1"),
		Entry("log name with a path", adapters.SimulatorConfig{LogName: "../x.log"}, "logName"),
		Entry("tiny log cap", adapters.SimulatorConfig{LogMaxBytes: 100}, "logMaxBytes"),
		Entry("bad collect entry", adapters.SimulatorConfig{Common: adapters.Common{Collect: []string{"[x"}}}, "collect"),
	)
})
