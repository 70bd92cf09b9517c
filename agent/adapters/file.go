package adapters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/statefile"
)

// FileConfig configures the file adapter. At least one of StatusFile and
// Logs is needed.
type FileConfig struct {
	Common `yaml:",inline"`

	// StatusFile is re-read every poll; it uses the key=value format. A
	// missing or unreadable status file is a poll error (the device's
	// software is not running).
	StatusFile string `json:"statusFile,omitempty" yaml:"status_file,omitempty"`
	// StaleAfter, when set, makes a status file not modified for that
	// long a poll error too: a hung device program stops updating it.
	StaleAfter time.Duration `json:"staleAfter,omitempty" yaml:"stale_after,omitempty"`
	// DefaultSeverity applies to error= lines without one; default major.
	DefaultSeverity agent.Severity `json:"defaultSeverity,omitempty" yaml:"default_severity,omitempty"`
	// ClearAbsent treats the status file as the full list of active
	// errors: a code no longer listed is cleared.
	ClearAbsent bool `json:"clearAbsent,omitempty" yaml:"clear_absent,omitempty"`

	// Logs are tailed for Patterns, and are the files LogFiles offers for
	// upload.
	Logs     []string     `json:"logs,omitempty" yaml:"logs,omitempty"`
	Patterns []LogPattern `json:"patterns,omitempty" yaml:"patterns,omitempty"`
	// StateFile, when set, keeps the read offsets across restarts.
	StateFile string `json:"stateFile,omitempty" yaml:"state_file,omitempty"`
	// FromStart reads a log seen for the first time from its beginning;
	// by default the adapter starts at its end, so years of history are
	// not replayed as new alarms.
	FromStart bool `json:"fromStart,omitempty" yaml:"from_start,omitempty"`
	// MaxReadBytes bounds how much of one log a poll reads; default 1
	// MiB. The rest waits for the next poll.
	MaxReadBytes int64 `json:"maxReadBytes,omitempty" yaml:"max_read_bytes,omitempty"`
}

// LogPattern turns matching log lines into events. Regexp must have a
// named group "code" (e.g. `ERROR (?P<code>E-\d+)`) unless Code is set.
type LogPattern struct {
	Regexp   string         `json:"regexp" yaml:"regexp"`
	Code     string         `json:"code,omitempty" yaml:"code,omitempty"`         // fixed code, overrides the group
	Severity agent.Severity `json:"severity,omitempty" yaml:"severity,omitempty"` // default major
	// Clears makes a match clear the code instead of raising it.
	Clears bool `json:"clears,omitempty" yaml:"clears,omitempty"`
}

const (
	defaultMaxRead   = 1 << 20
	maxStatusBytes   = 64 << 10
	maxLogLine       = 64 << 10
	maxSeenPerPoll   = 256 // distinct codes per log per poll; more is a flood
	eventTextFromLog = 200
)

type compiledPattern struct {
	re       *regexp.Regexp
	codeIdx  int
	code     string
	severity agent.Severity
	clears   bool
}

func (c *FileConfig) validate() (*collectSet, []compiledPattern, error) {
	if c.StatusFile == "" && len(c.Logs) == 0 {
		return nil, nil, errors.New("file: set statusFile, logs or both")
	}
	if c.StaleAfter < 0 {
		return nil, nil, fmt.Errorf("file: staleAfter %s is negative", c.StaleAfter)
	}
	if err := checkSeverity(&c.DefaultSeverity, agent.SeverityMajor); err != nil {
		return nil, nil, fmt.Errorf("file: defaultSeverity: %w", err)
	}
	if len(c.Patterns) > 0 && len(c.Logs) == 0 {
		return nil, nil, errors.New("file: patterns need logs to tail")
	}
	seen := map[string]bool{}
	for i, p := range c.Logs {
		if p == "" {
			return nil, nil, fmt.Errorf("file: logs[%d] is empty", i)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, nil, fmt.Errorf("file: logs[%d]: %w", i, err)
		}
		if seen[abs] {
			return nil, nil, fmt.Errorf("file: log %s is listed twice", abs)
		}
		seen[abs] = true
		c.Logs[i] = abs
	}
	var pats []compiledPattern
	for i, p := range c.Patterns {
		re, err := regexp.Compile(p.Regexp)
		if err != nil {
			return nil, nil, fmt.Errorf("file: patterns[%d]: %w", i, err)
		}
		cp := compiledPattern{re: re, codeIdx: re.SubexpIndex("code"), code: p.Code, severity: p.Severity, clears: p.Clears}
		if cp.code == "" && cp.codeIdx < 0 {
			return nil, nil, fmt.Errorf("file: patterns[%d] %q has no (?P<code>…) group and no fixed code", i, p.Regexp)
		}
		if cp.code != "" && !codeRE.MatchString(cp.code) {
			return nil, nil, fmt.Errorf("file: patterns[%d]: code %q must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}", i, cp.code)
		}
		if err := checkSeverity(&cp.severity, agent.SeverityMajor); err != nil {
			return nil, nil, fmt.Errorf("file: patterns[%d]: %w", i, err)
		}
		pats = append(pats, cp)
	}
	if c.MaxReadBytes < 0 {
		return nil, nil, fmt.Errorf("file: maxReadBytes %d is negative", c.MaxReadBytes)
	}
	if c.MaxReadBytes == 0 {
		c.MaxReadBytes = defaultMaxRead
	}
	set, err := c.setup("file")
	return set, pats, err
}

// File reads a status file and tails log files.
type File struct {
	cfg      FileConfig
	collect  *collectSet
	patterns []compiledPattern
	bad      badLines

	mu      sync.Mutex
	tracker *tracker
	tails   map[string]*tail
	saved   map[string]tailState // what the state file holds
	started bool
}

// tail follows one log file. It keeps the file open so lines written just
// before a rename-rotation are still read from the old file.
type tail struct {
	path   string
	f      *os.File
	fi     os.FileInfo
	offset int64
	// fresh is set once the path was seen missing or the adapter started
	// with no record of it; a file that appears later is read from 0.
	fresh bool
}

// tailState is what the state file records per log.
type tailState struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
}

// NewFile validates cfg and returns the adapter; it reads the state file
// (a missing one is fine; a corrupt one is reported and ignored, which
// at worst re-reads a log tail once).
func NewFile(cfg FileConfig) (*File, error) {
	cfg.Logs = append([]string(nil), cfg.Logs...)
	set, pats, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("adapters.NewFile: %w", err)
	}
	f := &File{cfg: cfg, collect: set, patterns: pats, tracker: newTracker(),
		tails: map[string]*tail{}, saved: map[string]tailState{}}
	f.bad.log = cfg.Logger
	if cfg.StateFile != "" {
		data, err := os.ReadFile(cfg.StateFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("adapters.NewFile: state file: %w", err)
		default:
			if err := json.Unmarshal(data, &f.saved); err != nil {
				cfg.Logger.WithError(err).Warn("state file is corrupt; starting the tails afresh")
				f.saved = map[string]tailState{}
			}
		}
	}
	for _, p := range cfg.Logs {
		f.tails[p] = &tail{path: p}
	}
	return f, nil
}

// Poll reads the status file and whatever the logs gained since the last
// poll.
func (f *File) Poll(ctx context.Context) (agent.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// Offsets reached by the previous poll are saved now, when that
	// poll's sample has been taken by the agent: a crash in between then
	// re-reports events (harmless) instead of losing them.
	f.saveState()

	now := f.cfg.Now()
	var st status
	if f.cfg.StatusFile != "" {
		data, err := f.readStatus(now)
		if err != nil {
			return agent.Sample{}, fmt.Errorf("adapters.File.Poll: %w", err)
		}
		st = parseStatus(data, f.cfg.DefaultSeverity, f.bad.report)
	} else {
		st.props = map[string]string{}
	}
	events := f.tracker.apply(st, f.cfg.ClearAbsent, now)
	state := st.state
	if state == "" {
		state = f.tracker.state()
	}
	for _, p := range f.cfg.Logs {
		if ctx.Err() != nil {
			return agent.Sample{}, fmt.Errorf("adapters.File.Poll: %w", ctx.Err())
		}
		events = append(events, f.readLog(f.tails[p], now)...)
	}
	f.started = true
	return finish(agent.Sample{Time: now, State: state, Metrics: st.metrics, Properties: st.props, Events: events},
		f.collect, f.cfg.Redactor), nil
}

func (f *File) readStatus(now time.Time) ([]byte, error) {
	fh, err := os.Open(f.cfg.StatusFile)
	if err != nil {
		return nil, fmt.Errorf("status file: %w", err)
	}
	defer fh.Close()
	if f.cfg.StaleAfter > 0 {
		fi, err := fh.Stat()
		if err != nil {
			return nil, fmt.Errorf("status file: %w", err)
		}
		if age := now.Sub(fi.ModTime()); age > f.cfg.StaleAfter {
			return nil, fmt.Errorf("status file %s not updated for %s", f.cfg.StatusFile, age.Round(time.Second))
		}
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxStatusBytes+1))
	if err != nil {
		return nil, fmt.Errorf("status file: %w", err)
	}
	if len(data) > maxStatusBytes {
		f.cfg.Logger.Warn("status file is over 64 KiB; reading its first 64 KiB")
		data = data[:maxStatusBytes]
		data = data[:max(strings.LastIndexByte(string(data), '\n')+1, 0)]
	}
	return data, nil
}

// readLog reads what one log gained and matches it.
func (f *File) readLog(t *tail, now time.Time) []agent.Event {
	log := f.cfg.Logger.WithField("log", t.path)
	fi, err := os.Stat(t.path)
	if err != nil {
		// Rotated away and not yet recreated: finish the old file.
		var events []agent.Event
		if t.f != nil {
			events = f.consume(t, now)
			t.close()
		}
		if !errors.Is(err, os.ErrNotExist) {
			log.WithError(err).Warn("cannot stat log")
		}
		t.fresh = true
		return events
	}
	var events []agent.Event
	switch {
	case t.f == nil:
		if err := f.open(t, fi); err != nil {
			log.WithError(err).Warn("cannot open log")
			return nil
		}
	case !os.SameFile(t.fi, fi):
		// Renamed away and replaced: drain the old file, then start the
		// new one from its beginning.
		events = f.consume(t, now)
		t.close()
		t.fresh = true
		if err := f.open(t, fi); err != nil {
			log.WithError(err).Warn("cannot open log")
			return events
		}
	case fi.Size() < t.offset:
		// Truncated in place (copytruncate): everything is new.
		log.Info("log was truncated; reading it from the start")
		t.offset = 0
	}
	t.fi = fi
	return append(events, f.consume(t, now)...)
}

// open opens t.path and decides where to start reading.
func (f *File) open(t *tail, fi os.FileInfo) error {
	fh, err := os.Open(t.path)
	if err != nil {
		return err
	}
	// Stat the handle, not the path: the file may have been rotated
	// between the two calls.
	if fi, err = fh.Stat(); err != nil {
		fh.Close()
		return err
	}
	t.f, t.fi = fh, fi
	dev, ino, haveID := fileID(fi)
	saved, ok := f.saved[t.path]
	sameFile := !haveID || saved.Dev == dev && saved.Ino == ino
	switch {
	case ok && sameFile && saved.Offset <= fi.Size():
		t.offset = saved.Offset
	case ok:
		t.offset = 0 // replaced or truncated while the agent was down
	case t.fresh || f.started || f.cfg.FromStart:
		t.offset = 0
	default:
		t.offset = fi.Size()
	}
	return nil
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
	}
	t.f, t.fi = nil, nil
	t.offset = 0
}

// consume reads complete lines from t's offset, up to MaxReadBytes, and
// matches them. A partial last line waits for the next poll, unless it is
// already too long to be a line anyone will finish.
func (f *File) consume(t *tail, now time.Time) []agent.Event {
	buf := make([]byte, min(f.cfg.MaxReadBytes, 64<<10))
	var events []agent.Event
	agg := map[string]int{} // code|clears -> index in events
	var pending []byte
	read := int64(0)
	for read < f.cfg.MaxReadBytes {
		n, err := t.f.ReadAt(buf[:min(int64(len(buf)), f.cfg.MaxReadBytes-read)], t.offset+read)
		read += int64(n)
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			f.match(string(pending[:i]), t.path, now, &events, agg)
			t.offset += int64(i + 1)
			pending = pending[i+1:]
		}
		if len(pending) >= maxLogLine {
			f.match(string(pending), t.path, now, &events, agg)
			t.offset += int64(len(pending))
			pending = nil
		}
		if err != nil || n == 0 {
			break
		}
	}
	return events
}

// match turns one log line into an event, merging repeats of a code
// within a poll into one event with a count, so a log that repeats an
// error every second sends one alarm per poll, not thousands.
func (f *File) match(line, path string, now time.Time, events *[]agent.Event, agg map[string]int) {
	line = strings.TrimRight(line, "\r")
	for _, p := range f.patterns {
		m := p.re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		code := p.code
		if code == "" {
			code = m[p.codeIdx]
		}
		if !codeRE.MatchString(code) {
			f.bad.report(line, "pattern matched but the code is not a valid alarm code")
			return
		}
		key := code + "|" + strconv.FormatBool(p.clears)
		if i, ok := agg[key]; ok {
			n, _ := strconv.Atoi((*events)[i].Context["count"])
			(*events)[i].Context["count"] = strconv.Itoa(n + 1)
			return
		}
		if len(agg) >= maxSeenPerPoll {
			return
		}
		agg[key] = len(*events)
		*events = append(*events, agent.Event{Code: code, Severity: p.severity, Time: now, Cleared: p.clears,
			// Redact before cutting, or a cut could leave half an
			// identifier the patterns no longer recognise.
			Text:    truncate(f.cfg.Redactor.Line(strings.TrimSpace(line)), eventTextFromLog),
			Context: map[string]string{"log": filepath.Base(path), "count": "1"}})
		return // first matching pattern wins
	}
}

// saveState writes the offsets atomically (temporary file, fsync,
// rename), and only when they changed.
func (f *File) saveState() {
	if f.cfg.StateFile == "" {
		return
	}
	cur := map[string]tailState{}
	for p, t := range f.tails {
		if t.f == nil {
			if s, ok := f.saved[p]; ok {
				cur[p] = s // keep what we knew until the file is back
			}
			continue
		}
		dev, ino, _ := fileID(t.fi)
		cur[p] = tailState{Dev: dev, Ino: ino, Offset: t.offset}
	}
	if equalStates(cur, f.saved) {
		return
	}
	if err := statefile.WriteJSON(f.cfg.StateFile, cur); err != nil {
		f.cfg.Logger.WithError(err).Warn("cannot save log offsets; a restart may re-report recent log errors")
		return
	}
	f.saved = cur
}

func equalStates(a, b map[string]tailState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// LogFiles lists the tailed logs that exist, with their rotated siblings
// (name.1, name.1.gz, …), so an engineer can fetch the history too.
func (f *File) LogFiles() []string {
	var pats []string
	for _, p := range f.cfg.Logs {
		pats = append(pats, p, p+".[0-9]*")
	}
	out := logPaths(pats)
	sort.Strings(out)
	return out
}

// BadLines is how many status lines did not parse since the start.
func (f *File) BadLines() int64 { return f.bad.total() }

// Close saves the offsets and closes the logs.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saveState()
	for _, t := range f.tails {
		t.close()
	}
	return nil
}
