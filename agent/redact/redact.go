package redact

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// DefaultMaxLineBytes is the longest line Copy processes whole; longer
// lines are split so a log without newlines cannot make the agent load it
// into memory at once.
const DefaultMaxLineBytes = 64 << 10

// Pattern is a configured redaction rule. If Regexp has one or more
// groups named "value", only the text those groups matched is replaced
// (the label stays, so the line keeps its meaning); otherwise the whole
// match is. Replacement is literal text; empty means "[REDACTED:<Name>]".
type Pattern struct {
	Name        string `json:"name" yaml:"name"`
	Regexp      string `json:"regexp" yaml:"regexp"`
	Replacement string `json:"replacement,omitempty" yaml:"replacement,omitempty"`
}

// Config configures a Redactor.
type Config struct {
	// Patterns run after the defaults, in order.
	Patterns []Pattern `json:"patterns,omitempty" yaml:"patterns,omitempty"`
	// DisableDefaults drops the built-in patient-identifier rules; only
	// Patterns apply.
	DisableDefaults bool `json:"disableDefaults,omitempty" yaml:"disable_defaults,omitempty"`
	// MaxLineBytes bounds how much of a line Copy holds; default
	// DefaultMaxLineBytes, at least 1 KiB.
	MaxLineBytes int `json:"maxLineBytes,omitempty" yaml:"max_line_bytes,omitempty"`
}

// Stats reports what Copy did.
type Stats struct {
	Lines      int64            // lines (or pieces of split lines) processed
	SplitLines int64            // lines longer than MaxLineBytes, processed in pieces
	Redactions int64            // values replaced
	ByRule     map[string]int64 // replacements per rule name
	BytesIn    int64
	BytesOut   int64
}

// Redactor applies redaction rules. It is safe for concurrent use.
type Redactor struct {
	rules   []rule
	maxLine int
}

// rule rewrites one line and reports how many values it replaced.
type rule struct {
	name  string
	apply func(line string) (string, int)
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$`)

// New builds a Redactor from cfg.
func New(cfg Config) (*Redactor, error) {
	r := &Redactor{maxLine: cfg.MaxLineBytes}
	if r.maxLine == 0 {
		r.maxLine = DefaultMaxLineBytes
	}
	if r.maxLine < 1024 {
		return nil, fmt.Errorf("redact.New: MaxLineBytes %d is below 1024", cfg.MaxLineBytes)
	}
	if !cfg.DisableDefaults {
		r.rules = append(r.rules, defaultRules()...)
	}
	seen := map[string]bool{}
	for i, p := range cfg.Patterns {
		if !namePattern.MatchString(p.Name) {
			return nil, fmt.Errorf("redact.New: pattern %d: name %q must be 1-64 letters, digits, '.', '_' or '-'", i, p.Name)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("redact.New: pattern %q is configured twice", p.Name)
		}
		seen[p.Name] = true
		if p.Regexp == "" {
			return nil, fmt.Errorf("redact.New: pattern %q: regexp is empty", p.Name)
		}
		re, err := regexp.Compile(p.Regexp)
		if err != nil {
			return nil, fmt.Errorf("redact.New: pattern %q: %w", p.Name, err)
		}
		if re.MatchString("") {
			// An empty match would insert the marker between every character.
			return nil, fmt.Errorf("redact.New: pattern %q matches the empty string", p.Name)
		}
		repl := p.Replacement
		if repl == "" {
			repl = marker(p.Name)
		}
		r.rules = append(r.rules, regexRule(p.Name, re, repl))
	}
	if len(r.rules) == 0 {
		return nil, errors.New("redact.New: defaults disabled and no patterns configured")
	}
	return r, nil
}

// Default returns the Redactor with the built-in rules only. It is built
// once and shared (a Redactor is safe for concurrent use), so a process
// simulating a thousand devices compiles the patterns once.
func Default() *Redactor { return defaultRedactor() }

var defaultRedactor = sync.OnceValue(func() *Redactor {
	r, err := New(Config{})
	if err != nil {
		panic(err) // the defaults are compiled in; failing here is a bug
	}
	return r
})

func marker(kind string) string { return "[REDACTED:" + kind + "]" }

// Line returns s with every identifier the rules know replaced.
func (r *Redactor) Line(s string) string {
	out, _ := r.line(s, nil)
	return out
}

func (r *Redactor) line(s string, by map[string]int64) (string, int) {
	total := 0
	for _, ru := range r.rules {
		var n int
		s, n = ru.apply(s)
		if n > 0 {
			total += n
			if by != nil {
				by[ru.name] += int64(n)
			}
		}
	}
	return s, total
}

// Copy streams src to dst line by line, redacting each line. Line endings
// (LF or CRLF) are kept; a line longer than MaxLineBytes is processed in
// pieces cut at a space or '|' near the limit when there is one. On a read
// or write error Copy stops and returns it with the stats so far.
func (r *Redactor) Copy(dst io.Writer, src io.Reader) (Stats, error) {
	st := Stats{ByRule: map[string]int64{}}
	cw := &countWriter{w: dst}
	bw := bufio.NewWriterSize(cw, 32<<10)
	br := bufio.NewReaderSize(src, r.maxLine)
	var pending []byte

	emit := func(piece []byte) error {
		content, eol := splitEOL(piece)
		out, n := r.line(string(content), st.ByRule)
		st.Lines++
		st.Redactions += int64(n)
		if _, err := bw.WriteString(out); err != nil {
			return err
		}
		_, err := bw.Write(eol)
		return err
	}
	// cutLong emits pieces of pending while it is longer than the limit,
	// so memory stays bounded by about two lines' worth. Until the line
	// ends it keeps a little look-ahead past the limit so cutPoint can
	// check that a cut does not separate a label from its value.
	cutLong := func(final bool) error {
		for len(pending) > r.maxLine && (final || len(pending) >= r.maxLine+lookahead) {
			cut := r.cutPoint(pending, r.maxLine)
			if err := emit(pending[:cut]); err != nil {
				return err
			}
			st.SplitLines++
			pending = append(pending[:0], pending[cut:]...)
		}
		return nil
	}
	finish := func(err error) (Stats, error) {
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		st.BytesOut = cw.n
		return st, err
	}

	for {
		chunk, err := br.ReadSlice('\n')
		st.BytesIn += int64(len(chunk))
		pending = append(pending, chunk...)
		switch {
		case err == nil:
			if werr := cutLong(true); werr != nil {
				return finish(fmt.Errorf("redact.Copy: %w", werr))
			}
			if werr := emit(pending); werr != nil {
				return finish(fmt.Errorf("redact.Copy: %w", werr))
			}
			pending = pending[:0]
		case errors.Is(err, bufio.ErrBufferFull):
			if werr := cutLong(false); werr != nil {
				return finish(fmt.Errorf("redact.Copy: %w", werr))
			}
		case errors.Is(err, io.EOF):
			if werr := cutLong(true); werr != nil {
				return finish(fmt.Errorf("redact.Copy: %w", werr))
			}
			if len(pending) > 0 {
				if werr := emit(pending); werr != nil {
					return finish(fmt.Errorf("redact.Copy: %w", werr))
				}
			}
			return finish(nil)
		default:
			return finish(fmt.Errorf("redact.Copy: %w", err))
		}
	}
}

// lookahead is how much text either side of a candidate cut is checked.
const lookahead = 256

// cutPoint picks where to split an over-long line b at or before limit:
// just after a separator in the final KiB, choosing the last one where
// redacting the two halves apart gives the same text as redacting them
// together, so a cut never lets "MRN: " and its number escape in
// different pieces. With no such separator it cuts at the limit.
func (r *Redactor) cutPoint(b []byte, limit int) int {
	lo := max(limit-1024, 0)
	for i := limit; i > lo; {
		j := bytes.LastIndexAny(b[lo:i], " \t|,;")
		if j < 0 {
			break
		}
		cut := lo + j + 1
		left := string(b[max(cut-lookahead, 0):cut])
		right := string(b[cut:min(cut+lookahead, len(b))])
		if r.Line(left)+r.Line(right) == r.Line(left+right) {
			return cut
		}
		i = lo + j
	}
	return limit
}

func splitEOL(b []byte) (content, eol []byte) {
	switch {
	case bytes.HasSuffix(b, []byte("\r\n")):
		return b[:len(b)-2], b[len(b)-2:]
	case bytes.HasSuffix(b, []byte("\n")):
		return b[:len(b)-1], b[len(b)-1:]
	}
	return b, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// regexRule replaces the "value" groups of each match, or the whole match
// when the expression has none.
func regexRule(name string, re *regexp.Regexp, repl string) rule {
	var groups []int
	for i, n := range re.SubexpNames() {
		if n == "value" {
			groups = append(groups, i)
		}
	}
	return rule{name: name, apply: func(s string) (string, int) {
		locs := re.FindAllStringSubmatchIndex(s, -1)
		if locs == nil {
			return s, 0
		}
		var spans [][2]int
		for _, loc := range locs {
			if len(groups) == 0 {
				spans = append(spans, [2]int{loc[0], loc[1]})
				continue
			}
			for _, g := range groups {
				if a, b := loc[2*g], loc[2*g+1]; a >= 0 && b > a {
					spans = append(spans, [2]int{a, b})
				}
			}
		}
		return replaceSpans(s, spans, func(int) string { return repl })
	}}
}

// replaceSpans replaces non-overlapping [start,end) spans of s, skipping
// text that is already a redaction marker so running a Redactor twice
// changes nothing.
func replaceSpans(s string, spans [][2]int, repl func(start int) string) (string, int) {
	if len(spans) == 0 {
		return s, 0
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var b strings.Builder
	b.Grow(len(s))
	last, n := 0, 0
	for _, sp := range spans {
		if sp[0] < last {
			continue
		}
		old := s[sp[0]:sp[1]]
		if isMarker(old) {
			continue
		}
		b.WriteString(s[last:sp[0]])
		b.WriteString(repl(sp[0]))
		last = sp[1]
		n++
	}
	if n == 0 {
		return s, 0
	}
	b.WriteString(s[last:])
	return b.String(), n
}

func isMarker(s string) bool {
	s = strings.Trim(s, "[]")
	return strings.HasPrefix(s, "REDACTED:") || strings.HasPrefix(s, "[REDACTED:")
}
