package auditlog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rmsproject/rms/agent"
)

// Report is the outcome of Verify.
type Report struct {
	// Checked records verified, FirstSeq to LastSeq, before any break.
	Checked  int
	FirstSeq uint64
	LastSeq  uint64
	// Files is how many files were read.
	Files int
	// Break is the first record that fails, or nil when all hold.
	Break *Break
}

// Break names the first record that fails verification.
type Break struct {
	// Seq is the seq the record at that place should have (for a missing
	// or reordered record, the one that is not where it should be).
	Seq    uint64
	File   string
	Line   int
	Reason string
}

func (b *Break) String() string {
	return fmt.Sprintf("seq %d (%s line %d): %s", b.Seq, b.File, b.Line, b.Reason)
}

// String is what `rms-agent audit verify` prints.
func (r Report) String() string {
	s := fmt.Sprintf("%d records checked", r.Checked)
	if r.Checked > 0 {
		s += fmt.Sprintf(" from seq %d to %d", r.FirstSeq, r.LastSeq)
		if r.FirstSeq > 1 {
			s += fmt.Sprintf(" (records before %d were rotated away; the first one's link is not checkable)", r.FirstSeq)
		}
	}
	if r.Break != nil {
		return s + "; BROKEN at " + r.Break.String()
	}
	return s + "; chain intact"
}

// OK reports whether the whole trail verified.
func (r Report) OK() bool { return r.Break == nil }

// Verify checks every line of the trail in dir: that it is a record, that
// its hash matches its content, that it links to the record before it
// (across files too), that seqs run on without a gap, and that each
// rotated file starts at the seq its name says. It stops at the first
// break. A broken chain is reported in Report.Break, not as an error; the
// error is for a trail that cannot be read at all.
func Verify(dir string) (Report, error) {
	var (
		rep Report
		v   verifier
	)
	segs, err := segments(dir)
	if err != nil {
		return rep, fmt.Errorf("auditlog.Verify: %w", err)
	}
	for _, s := range segs {
		rep.Files++
		n := 0
		err := eachLine(filepath.Join(dir, s.name), func(line []byte, lineNo int, complete bool) error {
			n = lineNo
			var nameSeq uint64
			if lineNo == 1 {
				nameSeq = s.first
			}
			if !complete {
				rep.Break = &Break{Seq: v.next(), File: s.name, Line: lineNo,
					Reason: "incomplete last line (a torn write; Open cuts it off)"}
				return errStop
			}
			if b := v.check(line, nameSeq); b != nil {
				b.File, b.Line = s.name, lineNo
				rep.Break = b
				return errStop
			}
			return nil
		})
		if errors.Is(err, errStop) {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("auditlog.Verify: %w", err)
		}
		if n == 0 && !s.current {
			rep.Break = &Break{Seq: s.first, File: s.name, Reason: "rotated file is empty"}
			break
		}
	}
	rep.Checked, rep.FirstSeq, rep.LastSeq = v.checked, v.first, v.prevSeq
	return rep, nil
}

var errStop = errors.New("stop")

// verifier checks records fed in file order, keeping only the one before,
// so a trail of any length is checked in constant memory.
type verifier struct {
	started  bool
	prevSeq  uint64
	prevHash string
	first    uint64
	checked  int
}

// next is the seq the next record should have, 0 if not yet known.
func (v *verifier) next() uint64 {
	if v.started {
		return v.prevSeq + 1
	}
	return 0
}

// check verifies one line; nameSeq is the seq a rotated file's name
// promises for its first line (0 otherwise).
func (v *verifier) check(line []byte, nameSeq uint64) *Break {
	expected := v.next()
	if expected == 0 {
		expected = nameSeq
	}
	e, err := parse(line)
	if err != nil {
		return &Break{Seq: expected, Reason: "not a valid audit record: " + err.Error()}
	}
	if expected == 0 {
		// The very first surviving record outside a named file: seq 1
		// if it claims to start the chain, else whatever it says (the
		// records before it were rotated away).
		expected = e.Seq
		if e.PrevHash == Genesis {
			expected = 1
		}
	}
	switch {
	case e.Seq != expected:
		return &Break{Seq: expected, Reason: fmt.Sprintf("expected seq %d, found %d: a record is missing, out of order or altered", expected, e.Seq)}
	case v.started && e.PrevHash != v.prevHash:
		return &Break{Seq: e.Seq, Reason: "does not link to the record before it (prev hash differs)"}
	case !v.started && e.Seq == 1 && e.PrevHash != Genesis:
		return &Break{Seq: e.Seq, Reason: "first record does not link to the genesis hash"}
	case Hash(e) != e.Hash:
		return &Break{Seq: e.Seq, Reason: "content does not match its hash"}
	}
	if !v.started {
		v.started, v.first = true, e.Seq
	}
	v.prevSeq, v.prevHash = e.Seq, e.Hash
	v.checked++
	return nil
}

// Read calls fn for every record with Seq >= fromSeq, oldest first, for
// `rms-agent audit show`. It does not verify the chain (Verify does), but
// a line that is not a record is an error; a torn last line, which Open
// would cut off, is skipped.
func Read(dir string, fromSeq uint64, fn func(agent.AuditEvent) error) error {
	segs, err := segments(dir)
	if err != nil {
		return fmt.Errorf("auditlog.Read: %w", err)
	}
	for i, s := range segs {
		// Skip whole files that end before fromSeq.
		if i+1 < len(segs) && !segs[i+1].current && segs[i+1].first <= fromSeq {
			continue
		}
		err := eachLine(filepath.Join(dir, s.name), func(line []byte, lineNo int, complete bool) error {
			if !complete {
				return nil
			}
			e, err := parse(line)
			if err != nil {
				return fmt.Errorf("%s line %d: %w: %v", s.name, lineNo, ErrCorrupt, err)
			}
			if e.Seq < fromSeq {
				return nil
			}
			return fn(e)
		})
		if errors.Is(err, os.ErrNotExist) {
			// Rotated or pruned while we listed: what it held is in
			// the next file or gone by design.
			continue
		}
		if err != nil {
			return fmt.Errorf("auditlog.Read: %w", err)
		}
	}
	return nil
}

// eachLine calls fn for each line of path without its newline; the last
// one is passed with complete false if the file does not end in one.
func eachLine(path string, fn func(line []byte, lineNo int, complete bool) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			complete := line[len(line)-1] == '\n'
			if complete {
				line = line[:len(line)-1]
			}
			if ferr := fn(line, n, complete); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
