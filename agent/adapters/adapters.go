package adapters

import (
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/redact"
)

// Kinds of adapter New knows.
const (
	KindSimulator = "simulator"
	KindExec      = "exec"
	KindFile      = "file"
)

// Common holds what every adapter's config has.
type Common struct {
	// Collect is the allow-list of metric and property names (exact or
	// path.Match globs) that may leave the device; empty means all the
	// adapter knows.
	Collect []string `json:"collect,omitempty" yaml:"collect,omitempty"`

	// Logger receives the adapter's warnings; default: discarded.
	Logger *logrus.Entry `json:"-" yaml:"-"`
	// Now is the clock; default time.Now.
	Now func() time.Time `json:"-" yaml:"-"`
	// Redactor scrubs event text, event context and property values
	// before they leave; default redact.Default().
	Redactor *redact.Redactor `json:"-" yaml:"-"`
}

// setup validates the common fields, fills defaults and builds the
// allow-list.
func (c *Common) setup(component string) (*collectSet, error) {
	set, err := newCollectSet(c.Collect)
	if err != nil {
		return nil, err
	}
	if c.Logger == nil {
		l := logrus.New()
		l.Out = io.Discard
		c.Logger = logrus.NewEntry(l)
	}
	c.Logger = c.Logger.WithField("component", "adapters."+component)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Redactor == nil {
		c.Redactor = redact.Default()
	}
	return set, nil
}

// Config selects and configures an adapter for New. Fields of Common set
// here apply to the chosen adapter unless its own section sets them.
type Config struct {
	Common    `yaml:",inline"`
	Simulator SimulatorConfig `json:"simulator" yaml:"simulator"`
	Exec      ExecConfig      `json:"exec" yaml:"exec"`
	File      FileConfig      `json:"file" yaml:"file"`
}

// New builds the adapter of the given kind: simulator, exec or file.
func New(kind string, cfg Config) (agent.Adapter, error) {
	merge := func(c *Common) {
		if c.Collect == nil {
			c.Collect = cfg.Collect
		}
		if c.Logger == nil {
			c.Logger = cfg.Logger
		}
		if c.Now == nil {
			c.Now = cfg.Now
		}
		if c.Redactor == nil {
			c.Redactor = cfg.Redactor
		}
	}
	switch kind {
	case KindSimulator:
		merge(&cfg.Simulator.Common)
		return NewSimulator(cfg.Simulator)
	case KindExec:
		merge(&cfg.Exec.Common)
		return NewExec(cfg.Exec)
	case KindFile:
		merge(&cfg.File.Common)
		return NewFile(cfg.File)
	}
	return nil, fmt.Errorf("adapters.New: unknown adapter kind %q (want simulator, exec or file)", kind)
}

// The wire's name rules (device.xsd): metric and property names, alarm
// codes.
var (
	nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._\-]{0,63}$`)
	codeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$`)
)

// Wire limits (device.xsd).
const (
	maxUnit      = 16
	maxPropValue = 1024
	maxText      = 1024
	maxContext   = 16
)

// collectSet is the allow-list: nil or empty means everything.
type collectSet struct {
	exact map[string]bool
	globs []string
}

func newCollectSet(names []string) (*collectSet, error) {
	s := &collectSet{exact: map[string]bool{}}
	for _, n := range names {
		if nameRE.MatchString(n) {
			s.exact[n] = true
			continue
		}
		if _, err := path.Match(n, ""); err != nil || n == "" {
			return nil, fmt.Errorf("collect: %q is neither a metric/property name nor a valid glob", n)
		}
		s.globs = append(s.globs, n)
	}
	return s, nil
}

func (s *collectSet) all() bool { return len(s.exact) == 0 && len(s.globs) == 0 }

func (s *collectSet) allows(name string) bool {
	if s.all() || s.exact[name] {
		return true
	}
	for _, g := range s.globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// finish applies the allow-list and the redactor to a sample, the last
// step before it leaves the adapter.
func finish(s agent.Sample, set *collectSet, r *redact.Redactor) agent.Sample {
	metrics := s.Metrics[:0:0]
	for _, m := range s.Metrics {
		if set.allows(m.Name) {
			metrics = append(metrics, m)
		}
	}
	s.Metrics = metrics
	props := map[string]string{}
	for k, v := range s.Properties {
		if set.allows(k) {
			props[k] = truncate(r.Line(v), maxPropValue)
		}
	}
	s.Properties = props
	for i := range s.Events {
		e := &s.Events[i]
		e.Text = truncate(r.Line(e.Text), maxText)
		if e.Text == "" {
			e.Text = e.Code // the wire requires a text
		}
		if len(e.Context) > 0 {
			ctx := map[string]string{}
			keys := make([]string, 0, len(e.Context))
			for k := range e.Context {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys[:min(len(keys), maxContext)] {
				ctx[k] = truncate(r.Line(e.Context[k]), maxPropValue)
			}
			e.Context = ctx
		}
	}
	return s
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func parseSeverity(s string) (agent.Severity, bool) {
	switch sev := agent.Severity(s); sev {
	case agent.SeverityCritical, agent.SeverityMajor, agent.SeverityMinor, agent.SeverityWarning, agent.SeverityInfo:
		return sev, true
	}
	return "", false
}

func checkSeverity(s *agent.Severity, def agent.Severity) error {
	if *s == "" {
		*s = def
		return nil
	}
	if _, ok := parseSeverity(string(*s)); !ok {
		return fmt.Errorf("severity %q is not critical, major, minor, warning or info", *s)
	}
	return nil
}

// logPaths resolves configured log files to absolute paths, expanding
// globs when LogFiles is called so files created later (rotations) are
// offered too.
func logPaths(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		matches, err := filepath.Glob(p)
		if err != nil || len(matches) == 0 {
			continue
		}
		for _, m := range matches {
			if abs, err := filepath.Abs(m); err == nil {
				out = append(out, abs)
			}
		}
	}
	sort.Strings(out)
	return out
}

func checkGlobs(patterns []string) error {
	for _, p := range patterns {
		if p == "" {
			return errors.New("an empty log file path")
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("log file pattern %q: %w", p, err)
		}
	}
	return nil
}

var (
	_ agent.Adapter = (*Simulator)(nil)
	_ agent.Adapter = (*Exec)(nil)
	_ agent.Adapter = (*File)(nil)
)
