package adapters

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rmsproject/rms/agent"
)

// Simulator profiles.
const (
	ProfileImaging = "imaging" // a CT/X-ray system: tube and detector
	ProfileLab     = "lab"     // a clinical chemistry analyser: incubator, reagents
)

// SimulatorConfig configures the simulator. Rates are probabilities per
// poll in [0,1]; zero picks the default and a negative value means never,
// so a test can switch any randomness off.
type SimulatorConfig struct {
	Common `yaml:",inline"`

	Profile  string `json:"profile,omitempty" yaml:"profile,omitempty"` // imaging (default) or lab
	Model    string `json:"model,omitempty" yaml:"model,omitempty"`     // default per profile
	Serial   string `json:"serial,omitempty" yaml:"serial,omitempty"`   // default derived from the seed
	Firmware string `json:"firmware,omitempty" yaml:"firmware,omitempty"`
	// Seed makes a run reproducible; 0 picks one at random (Seed()
	// reports it).
	Seed int64 `json:"seed,omitempty" yaml:"seed,omitempty"`

	ErrorRate        float64 `json:"errorRate,omitempty" yaml:"error_rate,omitempty"`             // a random fault is raised; default 0.02
	ClearRate        float64 `json:"clearRate,omitempty" yaml:"clear_rate,omitempty"`             // an active random fault clears; default 0.3
	MaintenanceRate  float64 `json:"maintenanceRate,omitempty" yaml:"maintenance_rate,omitempty"` // service mode begins; default 0.002
	MaintenancePolls int     `json:"maintenancePolls,omitempty" yaml:"maintenance_polls,omitempty"`

	// LogDir, when set, receives a growing log, rotated at LogMaxBytes
	// (default 1 MiB) keeping LogKeep old files (default 3).
	LogDir          string  `json:"logDir,omitempty" yaml:"log_dir,omitempty"`
	LogName         string  `json:"logName,omitempty" yaml:"log_name,omitempty"`                   // default device.log
	LogLinesPerPoll int     `json:"logLinesPerPoll,omitempty" yaml:"log_lines_per_poll,omitempty"` // default 3; negative: none
	LogMaxBytes     int64   `json:"logMaxBytes,omitempty" yaml:"log_max_bytes,omitempty"`
	LogKeep         int     `json:"logKeep,omitempty" yaml:"log_keep,omitempty"`
	PatientDataRate float64 `json:"patientDataRate,omitempty" yaml:"patient_data_rate,omitempty"` // share of log lines with fake patient identifiers; default 0.25
}

func rate(name string, r *float64, def float64) error {
	switch {
	case *r > 1:
		return fmt.Errorf("simulator: %s %g is above 1", name, *r)
	case *r < 0:
		*r = 0
	case *r == 0:
		*r = def
	}
	return nil
}

func (c *SimulatorConfig) validate() (*collectSet, error) {
	switch c.Profile {
	case "":
		c.Profile = ProfileImaging
	case ProfileImaging, ProfileLab:
	default:
		return nil, fmt.Errorf("simulator: profile %q is not imaging or lab", c.Profile)
	}
	for _, r := range []struct {
		name string
		v    *float64
		def  float64
	}{{"errorRate", &c.ErrorRate, 0.02}, {"clearRate", &c.ClearRate, 0.3},
		{"maintenanceRate", &c.MaintenanceRate, 0.002}, {"patientDataRate", &c.PatientDataRate, 0.25}} {
		if err := rate(r.name, r.v, r.def); err != nil {
			return nil, err
		}
	}
	if c.MaintenancePolls < 0 {
		return nil, fmt.Errorf("simulator: maintenancePolls %d is negative", c.MaintenancePolls)
	}
	if c.MaintenancePolls == 0 {
		c.MaintenancePolls = 5
	}
	if c.Seed == 0 {
		c.Seed = rand.Int64N(math.MaxInt64-1) + 1
	}
	if c.Model == "" {
		c.Model = map[string]string{ProfileImaging: "SimScan CT-64", ProfileLab: "SimLab AX-200"}[c.Profile]
	}
	if c.Serial == "" {
		c.Serial = fmt.Sprintf("SIM-%08d", uint64(c.Seed)%100000000)
	}
	if c.Firmware == "" {
		c.Firmware = "4.12.3"
	}
	if c.LogName == "" {
		c.LogName = "device.log"
	}
	if filepath.Base(c.LogName) != c.LogName {
		return nil, fmt.Errorf("simulator: logName %q must be a file name, not a path", c.LogName)
	}
	switch {
	case c.LogLinesPerPoll < 0:
		c.LogLinesPerPoll = 0
	case c.LogLinesPerPoll == 0:
		c.LogLinesPerPoll = 3
	}
	if c.LogMaxBytes < 0 || c.LogKeep < 0 {
		return nil, fmt.Errorf("simulator: logMaxBytes and logKeep must not be negative")
	}
	if c.LogMaxBytes == 0 {
		c.LogMaxBytes = 1 << 20
	}
	if c.LogMaxBytes < 4096 {
		return nil, fmt.Errorf("simulator: logMaxBytes %d is below 4096", c.LogMaxBytes)
	}
	if c.LogKeep == 0 {
		c.LogKeep = 3
	}
	return c.setup("simulator")
}

// walk is a bounded random walk pulled towards a resting value, which is
// how temperatures and loads behave: noisy, but not wandering off.
type walk struct {
	name, unit            string
	v, lo, hi, step, rest float64
	pull                  float64
}

func (w *walk) next(r *rand.Rand, push float64) {
	w.v += (r.Float64()*2-1)*w.step + (w.rest-w.v)*w.pull + push
	w.v = min(max(w.v, w.lo), w.hi)
}

// threshold raises code when a metric passes on, and clears it once the
// metric is back past off (hysteresis, so a reading hovering at the limit
// does not flap).
type threshold struct {
	metric  string
	above   bool
	on, off float64
	fault
}

type fault struct {
	code string
	sev  agent.Severity
	text string
}

type profile struct {
	walks      []walk
	counters   []string // names; all "count" units except uptime
	thresholds []threshold
	faults     []fault
}

func imagingProfile() profile {
	return profile{
		walks: []walk{
			{name: "tube.temp", unit: "C", v: 42, lo: 20, hi: 98, step: 2, rest: 45, pull: 0.04},
			{name: "detector.temp", unit: "C", v: 27, lo: 18, hi: 42, step: 0.5, rest: 28, pull: 0.03},
			{name: "cpu", unit: "%", v: 15, lo: 1, hi: 100, step: 8, rest: 20, pull: 0.2},
			{name: "mem", unit: "%", v: 45, lo: 10, hi: 95, step: 2, rest: 45, pull: 0.1},
			{name: "disk.used", unit: "%", v: 40, lo: 0, hi: 100},
		},
		counters: []string{"scans.total", "exposures.total"},
		thresholds: []threshold{
			{"tube.temp", true, 85, 75, fault{"E-101", agent.SeverityCritical, "X-ray tube overheating"}},
			{"detector.temp", true, 36, 33, fault{"W-122", agent.SeverityWarning, "Detector temperature high"}},
			{"disk.used", true, 90, 85, fault{"W-330", agent.SeverityWarning, "Image store almost full"}},
		},
		faults: []fault{
			{"E-214", agent.SeverityMajor, "Calibration overdue"},
			{"E-231", agent.SeverityMinor, "Detector communication timeout, retrying"},
			{"E-405", agent.SeverityMinor, "DICOM association rejected by PACS_MAIN"},
			{"E-512", agent.SeverityCritical, "Gantry rotation fault"},
			{"I-900", agent.SeverityInfo, "Service login on console"},
		},
	}
}

func labProfile() profile {
	return profile{
		walks: []walk{
			{name: "incubator.temp", unit: "C", v: 37, lo: 35.5, hi: 38.5, step: 0.1, rest: 37, pull: 0.1},
			{name: "reagent.level", unit: "%", v: 80, lo: 0, hi: 100},
			{name: "cpu", unit: "%", v: 12, lo: 1, hi: 100, step: 6, rest: 15, pull: 0.2},
			{name: "mem", unit: "%", v: 38, lo: 10, hi: 95, step: 2, rest: 38, pull: 0.1},
			{name: "disk.used", unit: "%", v: 35, lo: 0, hi: 100},
		},
		counters: []string{"samples.total", "tests.total", "qc.runs"},
		thresholds: []threshold{
			{"incubator.temp", true, 37.5, 37.3, fault{"E-140", agent.SeverityMajor, "Incubator temperature high"}},
			{"incubator.temp", false, 36.5, 36.7, fault{"E-141", agent.SeverityMajor, "Incubator temperature low"}},
			{"reagent.level", false, 10, 20, fault{"W-310", agent.SeverityWarning, "Reagent low"}},
			{"disk.used", true, 90, 85, fault{"W-330", agent.SeverityWarning, "Result store almost full"}},
		},
		faults: []fault{
			{"E-214", agent.SeverityMajor, "Calibration overdue"},
			{"E-623", agent.SeverityMinor, "Sample probe clot detected"},
			{"E-702", agent.SeverityMajor, "QC result out of range"},
			{"E-840", agent.SeverityCritical, "Analyser cover interlock open"},
			{"W-311", agent.SeverityWarning, "Waste container nearly full"},
		},
	}
}

const maintenanceCode = "I-901"

// Simulator is a simulated device.
type Simulator struct {
	cfg     SimulatorConfig
	collect *collectSet
	rng     *rand.Rand
	start   time.Time

	mu          sync.Mutex
	prof        profile
	counters    map[string]float64
	active      map[string]agent.Severity // raised and not yet cleared
	maintenance int                       // polls left in service mode
	log         *simLog
}

// NewSimulator validates cfg and returns a simulated device.
func NewSimulator(cfg SimulatorConfig) (*Simulator, error) {
	set, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("adapters.NewSimulator: %w", err)
	}
	s := &Simulator{cfg: cfg, collect: set, start: cfg.Now(),
		rng:      rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
		counters: map[string]float64{}, active: map[string]agent.Severity{}}
	if cfg.Profile == ProfileLab {
		s.prof = labProfile()
	} else {
		s.prof = imagingProfile()
	}
	if cfg.LogDir != "" {
		if err := os.MkdirAll(cfg.LogDir, 0o750); err != nil {
			return nil, fmt.Errorf("adapters.NewSimulator: %w", err)
		}
		s.log = &simLog{path: filepath.Join(cfg.LogDir, cfg.LogName), max: cfg.LogMaxBytes, keep: cfg.LogKeep}
	}
	cfg.Logger.WithField("seed", cfg.Seed).Debug("simulator ready")
	return s, nil
}

// Seed reports the seed in use, so a surprising run can be replayed.
func (s *Simulator) Seed() int64 { return s.cfg.Seed }

// Poll advances the simulation by one step.
func (s *Simulator) Poll(ctx context.Context) (agent.Sample, error) {
	if err := ctx.Err(); err != nil {
		return agent.Sample{}, fmt.Errorf("adapters.Simulator.Poll: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	r := s.rng
	var events []agent.Event
	var lines []string
	raise := func(f fault, ctx map[string]string) {
		s.active[f.code] = f.sev
		events = append(events, agent.Event{Code: f.code, Severity: f.sev, Text: f.text, Time: now, Context: ctx})
		lines = append(lines, fmt.Sprintf("%s [svc] %s %s", levelFor(f.sev), f.code, f.text))
	}
	clear := func(f fault) {
		delete(s.active, f.code)
		events = append(events, agent.Event{Code: f.code, Severity: f.sev, Text: f.text + " (cleared)", Time: now, Cleared: true})
		lines = append(lines, fmt.Sprintf("INFO  [svc] %s cleared: %s", f.code, f.text))
	}

	// Service mode: begins at random, lasts a few polls, stops the work.
	inMaint := s.maintenance > 0
	if inMaint {
		s.maintenance--
		if s.maintenance == 0 {
			clear(fault{maintenanceCode, agent.SeverityInfo, "Service mode"})
			inMaint = false
		}
	} else if r.Float64() < s.cfg.MaintenanceRate {
		s.maintenance = s.cfg.MaintenancePolls
		inMaint = true
		raise(fault{maintenanceCode, agent.SeverityInfo, "Service mode"}, map[string]string{"polls": strconv.Itoa(s.cfg.MaintenancePolls)})
	}

	work := 0
	if !inMaint {
		work = r.IntN(4) // scans or samples this poll
	}
	s.step(r, work, &lines)

	for _, t := range s.prof.thresholds {
		v := s.walk(t.metric).v
		_, on := s.active[t.code]
		past := v > t.on
		back := v < t.off
		if !t.above {
			past, back = v < t.on, v > t.off
		}
		switch {
		case !on && past:
			raise(t.fault, map[string]string{"metric": t.metric, "value": fmtFloat(v), "threshold": fmtFloat(t.on)})
		case on && back:
			clear(t.fault)
		}
	}
	for _, f := range s.prof.faults {
		if _, on := s.active[f.code]; on && r.Float64() < s.cfg.ClearRate {
			clear(f)
		}
	}
	if r.Float64() < s.cfg.ErrorRate {
		f := s.prof.faults[r.IntN(len(s.prof.faults))]
		if _, on := s.active[f.code]; !on {
			raise(f, nil)
		}
	}

	for range s.cfg.LogLinesPerPoll {
		lines = append(lines, s.logLine(r, r.Float64() < s.cfg.PatientDataRate))
	}
	if s.log != nil {
		if err := s.log.append(now, lines); err != nil {
			s.cfg.Logger.WithError(err).Warn("cannot write the simulated log")
		}
	}

	sample := agent.Sample{Time: now, State: s.state(inMaint), Events: events, Properties: map[string]string{
		"vendor": "RMS Simulated Devices", "model": s.cfg.Model, "serial": s.cfg.Serial,
		"fw": s.cfg.Firmware, "profile": s.cfg.Profile}}
	for _, w := range s.prof.walks {
		sample.Metrics = append(sample.Metrics, agent.Metric{Name: w.name, Value: round(w.v), Unit: w.unit})
	}
	for _, c := range s.prof.counters {
		sample.Metrics = append(sample.Metrics, agent.Metric{Name: c, Value: s.counters[c]})
	}
	sample.Metrics = append(sample.Metrics, agent.Metric{Name: "uptime", Value: math.Floor(now.Sub(s.start).Seconds()), Unit: "s"})
	return finish(sample, s.collect, s.cfg.Redactor), nil
}

// step moves every metric and counter one poll on; work is how many
// scans or samples ran, which heats the tube and uses reagent.
func (s *Simulator) step(r *rand.Rand, work int, lines *[]string) {
	for i := range s.prof.walks {
		w := &s.prof.walks[i]
		switch w.name {
		case "disk.used":
			// Grows with every study, until housekeeping purges old ones.
			w.v += r.Float64()*0.04 + float64(work)*0.01
			if w.v > 94 {
				purged := 200 + r.IntN(800)
				w.v -= 30
				*lines = append(*lines, fmt.Sprintf("INFO  [store] Housekeeping purged %d old studies", purged))
			}
			w.v = min(max(w.v, w.lo), w.hi)
		case "reagent.level":
			w.v -= float64(work) * (0.1 + r.Float64()*0.3)
			if w.v < 3 {
				w.v = 100
				*lines = append(*lines, fmt.Sprintf("INFO  [reagent] Reagent pack replaced, lot %d", 100000+r.IntN(900000)))
			}
			w.v = min(max(w.v, w.lo), w.hi)
		case "tube.temp":
			w.next(r, float64(work)*0.6)
		default:
			w.next(r, 0)
		}
	}
	for i, c := range s.prof.counters {
		inc := work
		if i > 0 {
			inc = work * (1 + r.IntN(3)) // exposures per scan, tests per sample
		}
		if c == "qc.runs" {
			inc = 0
			if work > 0 && r.IntN(20) == 0 {
				inc = 1
			}
		}
		s.counters[c] += float64(inc)
	}
}

func (s *Simulator) walk(name string) *walk {
	for i := range s.prof.walks {
		if s.prof.walks[i].name == name {
			return &s.prof.walks[i]
		}
	}
	panic("simulator: profile has no metric " + name) // a bug in a profile table
}

func (s *Simulator) state(inMaint bool) string {
	if inMaint {
		return "maintenance"
	}
	worst := "ok"
	for _, sev := range s.active {
		switch sev {
		case agent.SeverityCritical:
			return "error"
		case agent.SeverityInfo:
		default:
			worst = "warning"
		}
	}
	return worst
}

// LogFiles lists the simulated log and its rotations.
func (s *Simulator) LogFiles() []string {
	if s.log == nil {
		return nil
	}
	return logPaths([]string{s.log.path, s.log.path + ".[0-9]*"})
}

// Close has nothing to release: the log is opened per write.
func (s *Simulator) Close() error { return nil }

func levelFor(sev agent.Severity) string {
	switch sev {
	case agent.SeverityCritical, agent.SeverityMajor:
		return "ERROR"
	case agent.SeverityInfo:
		return "INFO "
	}
	return "WARN "
}

// round keeps one decimal: what a device display shows, and fewer bytes
// on the wire.
func round(v float64) float64 { return math.Round(v*10) / 10 }

func fmtFloat(v float64) string { return strconv.FormatFloat(round(v), 'f', -1, 64) }
