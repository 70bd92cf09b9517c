package adapters

import (
	"bufio"
	"bytes"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/rmsproject/rms/agent"
)

// status is one parsed key=value document.
type status struct {
	state   string
	metrics []agent.Metric
	props   map[string]string
	raises  []raise
	clears  []string
}

type raise struct {
	code string
	sev  agent.Severity
	text string
}

var states = map[string]bool{"ok": true, "warning": true, "error": true, "maintenance": true, "offline": true}

// parseStatus reads the key=value format (see the package doc). Lines that
// do not parse are handed to bad with the reason; they never fail the
// whole document, because one odd line from a vendor script should not
// take the device offline.
func parseStatus(data []byte, def agent.Severity, bad func(line, why string)) status {
	st := status{props: map[string]string{}}
	index := map[string]int{} // metric name -> position, so a repeat overrides
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			bad(line, "no '='")
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case key == "state":
			if !states[val] {
				bad(line, "state is not ok, warning, error, maintenance or offline")
				continue
			}
			st.state = val
		case strings.HasPrefix(key, "metric."):
			m, why := parseMetric(strings.TrimPrefix(key, "metric."), val)
			if why != "" {
				bad(line, why)
				continue
			}
			if i, ok := index[m.Name]; ok {
				st.metrics[i] = m
			} else {
				index[m.Name] = len(st.metrics)
				st.metrics = append(st.metrics, m)
			}
		case strings.HasPrefix(key, "property."):
			name := strings.TrimPrefix(key, "property.")
			if !nameRE.MatchString(name) {
				bad(line, "property name must match [A-Za-z][A-Za-z0-9._-]{0,63}")
				continue
			}
			if len(val) > maxPropValue {
				bad(line, "property value longer than 1024 bytes")
				continue
			}
			st.props[name] = val
		case key == "error":
			fields := strings.Fields(val)
			if len(fields) == 0 || !codeRE.MatchString(fields[0]) {
				bad(line, "error code must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")
				continue
			}
			r := raise{code: fields[0], sev: def}
			rest := strings.TrimSpace(strings.TrimPrefix(val, fields[0]))
			if len(fields) > 1 {
				if sev, ok := parseSeverity(strings.ToLower(fields[1])); ok {
					r.sev = sev
					rest = strings.TrimSpace(strings.TrimPrefix(rest, fields[1]))
				}
			}
			r.text = rest
			st.raises = append(st.raises, r)
		case key == "clear":
			if !codeRE.MatchString(val) {
				bad(line, "clear code must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")
				continue
			}
			st.clears = append(st.clears, val)
		default:
			bad(line, "unknown key")
		}
	}
	return st
}

func parseMetric(name, val string) (agent.Metric, string) {
	if !nameRE.MatchString(name) {
		return agent.Metric{}, "metric name must match [A-Za-z][A-Za-z0-9._-]{0,63}"
	}
	num, unit, _ := strings.Cut(val, " ")
	unit = strings.TrimSpace(unit)
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return agent.Metric{}, "metric value is not a finite number"
	}
	if len(unit) > maxUnit || strings.ContainsAny(unit, " \t") {
		return agent.Metric{}, "unit must be one word of at most 16 bytes"
	}
	return agent.Metric{Name: name, Value: v, Unit: unit}, ""
}

// tracker turns "what the device says now" into raise and clear events,
// so each code is reported once per transition.
type tracker struct {
	active map[string]agent.Severity
	// known holds codes whose state was reported since start; a clear
	// for a code not known is still sent once, because the server may
	// hold it active from before an agent restart.
	known map[string]bool
}

func newTracker() *tracker {
	return &tracker{active: map[string]agent.Severity{}, known: map[string]bool{}}
}

func (t *tracker) apply(st status, clearAbsent bool, now time.Time) []agent.Event {
	var out []agent.Event
	listed := map[string]bool{}
	for _, r := range st.raises {
		listed[r.code] = true
		if sev, ok := t.active[r.code]; ok && sev == r.sev {
			continue
		}
		t.active[r.code] = r.sev
		t.known[r.code] = true
		out = append(out, agent.Event{Code: r.code, Severity: r.sev, Text: r.text, Time: now})
	}
	clear := func(code string) {
		sev, ok := t.active[code]
		if !ok && t.known[code] {
			return
		}
		if !ok {
			sev = agent.SeverityInfo
		}
		delete(t.active, code)
		t.known[code] = true
		out = append(out, agent.Event{Code: code, Severity: sev, Text: code + " cleared", Time: now, Cleared: true})
	}
	for _, c := range st.clears {
		if !listed[c] {
			clear(c)
		}
	}
	if clearAbsent {
		for _, c := range sortedKeys(t.active) {
			if !listed[c] {
				clear(c)
			}
		}
	}
	return out
}

// state derives the device state when the document gave none.
func (t *tracker) state() string {
	worst := "ok"
	for _, sev := range t.active {
		if sev == agent.SeverityCritical {
			return "error"
		}
		if sev != agent.SeverityInfo {
			worst = "warning"
		}
	}
	return worst
}

// badLines counts unparseable lines and logs each distinct one once, so a
// script that always prints the same junk does not fill the log.
type badLines struct {
	mu    sync.Mutex
	count int64
	seen  map[string]bool
	log   *logrus.Entry
}

const maxSeenBad = 64

func (b *badLines) report(line, why string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.count++
	key := truncate(line, 80)
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	if b.seen[key] || len(b.seen) >= maxSeenBad {
		return
	}
	b.seen[key] = true
	b.log.WithFields(logrus.Fields{"line": key, "reason": why}).Warn("ignoring a line that does not parse (logged once)")
}

func (b *badLines) total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.count
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
