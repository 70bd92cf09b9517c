package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hooklift/gowsdl/soap"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"go.yaml.in/yaml/v3"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/outbox"
	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/soapclient"
)

// deviceID is the fixture device every agent here serves; each spec has
// its own server (and database), so they do not see each other's data.
const deviceID = "dev-0001"

// agentOptions vary what the config file says.
type agentOptions struct {
	Server   string        // base URL the agent talks to (the server, a MITM, a name for a PAC to route)
	Interval time.Duration // heartbeat and poll interval; default 1s so specs run in seconds
	Proxy    string        // proxy: setting; empty is direct
}

// testAgent is one rms-agent process with its own directory: the config,
// the state directory, and the status file its exec adapter reports. The
// adapter runs status.sh, which counts its runs in a file and prints the
// status file, so a spec decides the device's state, metrics and error
// codes and knows how many heartbeats the agent queued (one per poll).
type testAgent struct {
	Dir        string
	StateDir   string
	ConfigPath string
	StatusPath string
	PollsPath  string
	Options    agentOptions
	Session    *gexec.Session
}

func newAgent(o agentOptions) *testAgent {
	GinkgoHelper()
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	dir := GinkgoT().TempDir()
	a := &testAgent{Dir: dir, StateDir: filepath.Join(dir, "state"), ConfigPath: filepath.Join(dir, "agent.yaml"),
		StatusPath: filepath.Join(dir, "status"), PollsPath: filepath.Join(dir, "polls"), Options: o}
	script := fmt.Sprintf("#!/bin/sh\necho . >> '%s'\ncat '%s'\n", a.PollsPath, a.StatusPath)
	Expect(os.WriteFile(filepath.Join(dir, "status.sh"), []byte(script), 0o755)).To(Succeed())
	a.SetStatus("state=ok", "metric.tube.temp=41.5 C", "property.fw=4.12.3")
	a.writeConfig()
	DeferCleanup(func() {
		if a.running() {
			a.Kill()
		}
	})
	return a
}

func (a *testAgent) writeConfig() {
	GinkgoHelper()
	cfg := map[string]any{
		"server":      a.Options.Server,
		"ca":          fixtures.Path("pki", "ca.crt"),
		"server_cert": fixtures.Path("pki", "server.crt"),
		"state_dir":   a.StateDir,
		"interval":    a.Options.Interval.String(),
		"log_level":   "info",
		// Production backs off from 5 s up to 10 min; that would make an
		// outage spec wait minutes for the first retry after the server
		// returns, so the specs use a small range with the same code path.
		"backoff": map[string]string{"min": "1s", "max": "4s"},
		"diagnostics": map[string]any{
			"selftest": map[string]any{"command": []string{"sh", "-c", "echo ok"}, "timeout": "10s"},
		},
		"devices": []map[string]any{{
			"cert":    fixtures.Path("pki", "devices", deviceID+".crt"),
			"key":     fixtures.Path("pki", "devices", deviceID+".key"),
			"adapter": "exec",
			"options": map[string]any{"exec": map[string]any{
				"command": []string{"/bin/sh", filepath.Join(a.Dir, "status.sh")},
			}},
		}},
	}
	if a.Options.Proxy != "" {
		cfg["proxy"] = a.Options.Proxy
	}
	b, err := yaml.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(a.ConfigPath, b, 0o600)).To(Succeed())
}

// SetStatus replaces the status file atomically, so a poll never reads
// half of it.
func (a *testAgent) SetStatus(lines ...string) {
	GinkgoHelper()
	tmp := a.StatusPath + ".tmp"
	Expect(os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600)).To(Succeed())
	Expect(os.Rename(tmp, a.StatusPath)).To(Succeed())
}

// Polls is how many times the adapter ran, which is how many heartbeats
// the agent queued (give or take the one a stop or kill interrupted).
func (a *testAgent) Polls() int {
	b, err := os.ReadFile(a.PollsPath)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), ".")
}

// WaitPolls waits until the adapter ran n more times than now: then a
// status written before the call has been read and queued.
func (a *testAgent) WaitPolls(n int) {
	GinkgoHelper()
	target := a.Polls() + n
	Eventually(a.Polls).WithTimeout(time.Duration(n+5) * a.Options.Interval * 2).WithPolling(50 * time.Millisecond).
		Should(BeNumerically(">=", target))
}

func (a *testAgent) Start() {
	GinkgoHelper()
	Expect(a.running()).To(BeFalse(), "agent already running")
	var err error
	a.Session, err = gexec.Start(exec.Command(agentBin, "--config", a.ConfigPath),
		gexec.NewPrefixedWriter("[agent] ", GinkgoWriter), gexec.NewPrefixedWriter("[agent] ", GinkgoWriter))
	Expect(err).NotTo(HaveOccurred())
	Eventually(a.Session.Out).WithTimeout(10 * time.Second).Should(gbytes.Say("rms-agent running"))
}

func (a *testAgent) running() bool { return a.Session != nil && a.Session.ExitCode() < 0 }

// Stop is what systemd does: SIGTERM, and the agent must exit 0.
func (a *testAgent) Stop() {
	GinkgoHelper()
	a.Session.Terminate()
	Eventually(a.Session).WithTimeout(20 * time.Second).Should(gexec.Exit(0))
}

// Kill is a crash or power cut: SIGKILL, no chance to flush anything.
func (a *testAgent) Kill() {
	GinkgoHelper()
	a.Session.Kill()
	Eventually(a.Session).WithTimeout(10 * time.Second).Should(gexec.Exit(128 + int(syscall.SIGKILL)))
}

func (a *testAgent) Pid() int { return a.Session.Command.Process.Pid }

// Pending reads the stopped agent's outbox (bbolt holds a file lock, so
// only while the agent is not running).
func (a *testAgent) Pending() []agent.Message {
	GinkgoHelper()
	Expect(a.running()).To(BeFalse(), "the outbox is locked by the running agent")
	ob, err := outbox.Open(filepath.Join(a.StateDir, "outbox.db"), outbox.Config{LockTimeout: 2 * time.Second})
	Expect(err).NotTo(HaveOccurred())
	defer ob.Close()
	msgs, err := ob.Pending(deviceID, 1<<20)
	Expect(err).NotTo(HaveOccurred())
	return msgs
}

func countKind(msgs []agent.Message, k agent.Kind) int {
	n := 0
	for _, m := range msgs {
		if m.Kind == k {
			n++
		}
	}
	return n
}

// auditCLI runs `rms-agent audit ARGS --state-dir` and returns the
// finished session.
func (a *testAgent) auditCLI(args ...string) *gexec.Session {
	GinkgoHelper()
	args = append([]string{"audit"}, append(args, "--state-dir", a.StateDir)...)
	s, err := gexec.Start(exec.Command(agentBin, args...), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	Eventually(s).WithTimeout(10 * time.Second).Should(gexec.Exit())
	return s
}

// --- what the server stored ---

func bg() context.Context { return context.Background() }

// alarmCodes counts the device's alarms per code, over every page.
func alarmCodes(mgr *soapclient.Management) map[string]int {
	GinkgoHelper()
	out := map[string]int{}
	token := ""
	for {
		r, err := mgr.ListAlarms(bg(), &management.ListAlarms{DeviceId: deviceID, Limit: 500, PageToken: token})
		Expect(err).NotTo(HaveOccurred())
		for _, al := range r.Alarm {
			out[al.Code]++
		}
		if token = r.NextPageToken; token == "" {
			return out
		}
	}
}

// history is every stored heartbeat of the device, over every page.
func history(mgr *soapclient.Management) []*management.HistoryEntry {
	GinkgoHelper()
	var out []*management.HistoryEntry
	token := ""
	from := soap.CreateXsdDateTime(time.Now().Add(-30*24*time.Hour).UTC(), true)
	for {
		r, err := mgr.GetDeviceHistory(bg(), &management.GetDeviceHistory{DeviceId: deviceID, From: from, Limit: 500, PageToken: token})
		Expect(err).NotTo(HaveOccurred())
		out = append(out, r.Entry...)
		if token = r.NextPageToken; token == "" {
			return out
		}
	}
}

// distinctTimes counts the different sentAt times in a history: the agent
// stamps each heartbeat once when it queues it, so a heartbeat applied
// twice would show as two entries with one time. The history gives times
// to the second, which is enough: one agent's heartbeats are at least an
// interval (1 s here) apart.
func distinctTimes(h []*management.HistoryEntry) int {
	seen := map[time.Time]bool{}
	for _, e := range h {
		seen[e.Time.ToGoTime().UTC()] = true
	}
	return len(seen)
}

func getInstruction(mgr *soapclient.Management, id string) *management.Instruction {
	GinkgoHelper()
	r, err := mgr.GetInstruction(bg(), &management.GetInstruction{InstructionId: id})
	Expect(err).NotTo(HaveOccurred())
	return r.Instruction
}

func instructionStatus(mgr *soapclient.Management, id string) func() management.InstructionStatus {
	return func() management.InstructionStatus {
		in := getInstruction(mgr, id)
		if in.Status == nil {
			return ""
		}
		return *in.Status
	}
}

func queueSelftest(mgr *soapclient.Management) string {
	GinkgoHelper()
	r, err := mgr.QueueInstruction(bg(), &management.QueueInstruction{DeviceId: deviceID, Type: "RunDiagnostic",
		Parameter: []*management.NameValue{{Name: "name", Value: "selftest"}}})
	Expect(err).NotTo(HaveOccurred())
	return r.Instruction.InstructionId
}

// deviceLanded waits until the server has a heartbeat of the device.
func deviceLanded(mgr *soapclient.Management) *management.GetDeviceResponse {
	GinkgoHelper()
	var got *management.GetDeviceResponse
	Eventually(func() int {
		r, err := mgr.GetDevice(bg(), &management.GetDevice{DeviceId: deviceID})
		if err != nil {
			return 0
		}
		got = r
		return len(r.Device.Metric)
	}).WithTimeout(15 * time.Second).WithPolling(100 * time.Millisecond).Should(BeNumerically(">", 0))
	return got
}

// outageDuration is how long the outage spec keeps the server down: the
// issue's two minutes under CI, 20 s on a laptop; RMS_TEST_OUTAGE (a Go
// duration) overrides both.
func outageDuration() time.Duration {
	if v := os.Getenv("RMS_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		Expect(err).NotTo(HaveOccurred(), "RMS_TEST_OUTAGE")
		return d
	}
	if os.Getenv("CI") == "true" {
		return 2 * time.Minute
	}
	return 20 * time.Second
}
