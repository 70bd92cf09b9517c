package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rmsproject/rms/soapclient"
)

type simConfig struct {
	common
	interval  time.Duration
	alarmRate float64
}

func simulateFlags(fs *flag.FlagSet) *simConfig {
	c := &simConfig{}
	c.common.flags(fs, 5)
	fs.DurationVar(&c.interval, "interval", 10*time.Second, "heartbeat interval")
	fs.Float64Var(&c.alarmRate, "alarm-rate", 0.05, "chance per heartbeat that a device raises (or clears) an alarm")
	return c
}

// alarmCodes are what the simulated instruments report.
var alarmCodes = []struct {
	code, text string
	sev        soapclient.Severity
}{
	{"E-101", "X-ray tube temperature high", soapclient.SeverityCritical},
	{"E-214", "detector calibration overdue", soapclient.SeverityMajor},
	{"W-310", "reagent level low", soapclient.SeverityWarning},
	{"W-402", "disk usage above 80%", soapclient.SeverityMinor},
}

func simulate(ctx context.Context, c *simConfig, out io.Writer) error {
	if c.devices <= 0 || c.interval <= 0 {
		return errors.New("--devices and --interval must be positive")
	}
	clients, err := c.fleetClients("sim")
	if err != nil {
		return err
	}
	var mu sync.Mutex
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
	logf("simulating %d devices (sim-00001 …) against %s, heartbeat every %s", c.devices, c.server, c.interval)
	var wg sync.WaitGroup
	for i, d := range clients {
		id := fmt.Sprintf("sim-%05d", i+1)
		sim := &simDevice{id: id, d: d, rng: rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))), logf: logf}
		wg.Go(func() { sim.heartbeats(ctx, c.interval, c.alarmRate) })
		wg.Go(func() { sim.instructions(ctx) })
	}
	wg.Wait()
	return nil
}

type simDevice struct {
	id     string
	d      *soapclient.Device
	rng    *rand.Rand
	logf   func(string, ...any)
	temp   float64
	scans  float64
	active map[string]bool
}

func (s *simDevice) heartbeats(ctx context.Context, interval time.Duration, alarmRate float64) {
	s.temp, s.active = 35+s.rng.Float64()*5, map[string]bool{}
	t := time.NewTimer(time.Duration(s.rng.Int64N(int64(interval)))) // spread the fleet
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := interval
		if resp, err := s.d.Heartbeat(ctx, s.sample()); err != nil {
			s.fail("heartbeat", err)
		} else if resp.NextIntervalSeconds > 0 {
			next = time.Duration(resp.NextIntervalSeconds) * time.Second
			next = min(next, interval) // keep the demo lively
		}
		if s.rng.Float64() < alarmRate {
			s.alarm(ctx)
		}
		t.Reset(next)
	}
}

func (s *simDevice) sample() *soapclient.Heartbeat {
	s.temp = math.Max(20, math.Min(95, s.temp+s.rng.NormFloat64()))
	s.scans += float64(s.rng.IntN(4))
	state := soapclient.HealthStateOk
	if s.temp > 60 || len(s.active) > 0 {
		state = soapclient.HealthStateWarning
	}
	return &soapclient.Heartbeat{State: &state, Metric: []*soapclient.Metric{
		{Name: "cpu", Value: math.Round(s.rng.Float64()*400) / 10, Unit: "%"},
		{Name: "mem", Value: math.Round((40+s.rng.Float64()*20)*10) / 10, Unit: "%"},
		{Name: "temp", Value: math.Round(s.temp*10) / 10, Unit: "C"},
		{Name: "scans", Value: s.scans},
	}}
}

func (s *simDevice) alarm(ctx context.Context) {
	a := alarmCodes[s.rng.IntN(len(alarmCodes))]
	al := &soapclient.Alarm{Code: a.code, Severity: &a.sev, Text: a.text, RaisedAt: soapclient.NewDateTime(time.Now())}
	verb := "raised"
	if s.active[a.code] {
		al.ClearedAt, verb = soapclient.NewDateTime(time.Now()), "cleared"
	}
	if _, err := s.d.ReportAlarms(ctx, &soapclient.ReportAlarms{Alarm: []*soapclient.Alarm{al}}); err != nil {
		s.fail("alarm", err)
		return
	}
	s.active[a.code] = verb == "raised"
	if verb == "cleared" {
		delete(s.active, a.code)
	}
	s.logf("%s %s alarm %s (%s)", s.id, verb, a.code, a.sev)
}

// instructions long-polls and answers every instruction with a simulated
// success, as an agent would after running it.
func (s *simDevice) instructions(ctx context.Context) {
	for ctx.Err() == nil {
		resp, err := s.d.RequestInstructions(ctx, &soapclient.RequestInstructions{WaitSeconds: 25})
		if err != nil {
			s.fail("poll", err)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
			continue
		}
		for _, in := range resp.Instruction {
			status := soapclient.InstructionStatusSucceeded
			_, err := s.d.ReportInstructionResult(ctx, &soapclient.ReportInstructionResult{InstructionId: in.Id,
				Status: &status, Output: "simulated " + in.Type + ": ok", FinishedAt: soapclient.NewDateTime(time.Now())})
			if err != nil {
				s.fail("result", err)
				continue
			}
			s.logf("%s ran instruction %s (%s)", s.id, in.Type, in.Id)
		}
	}
}

func (s *simDevice) fail(what string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.logf("%s %s failed: %v", s.id, what, err)
}
