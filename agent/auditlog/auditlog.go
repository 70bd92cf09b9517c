package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/rmsproject/rms/agent"
)

// Genesis is the PrevHash of the very first record.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// CurrentName is the file being appended to.
const CurrentName = "audit.log"

// Defaults.
const (
	DefaultMaxFileBytes int64 = 1 << 20
	DefaultMaxFiles           = 8
)

// hashTag starts the canonical encoding, so a hash of this format can never
// be mistaken for one of another (the server's chain, a later version).
const hashTag = "rms-agent-audit-v1"

// Errors callers tell apart.
var (
	// ErrCorrupt means the log holds a complete line that is not a record
	// where the log must be read to continue (the last one); run Verify.
	ErrCorrupt = errors.New("audit log is damaged")
	// ErrClosed means Append after Close.
	ErrClosed = errors.New("audit log is closed")
)

// Config configures a Log.
type Config struct {
	// MaxFileBytes is the size past which audit.log is rotated; a single
	// record larger than this still gets a file of its own. Default 1 MiB.
	MaxFileBytes int64
	// MaxFiles bounds the number of files, audit.log included; the oldest
	// rotated file is deleted beyond it. Default 8.
	MaxFiles int
	// Now stamps events whose Time is zero; default time.Now.
	Now func() time.Time
	// Logger receives torn-line recovery and rotation; nil discards.
	Logger *logrus.Entry
}

func (c *Config) validate() error {
	switch {
	case c.MaxFileBytes < 0:
		return fmt.Errorf("MaxFileBytes %d is negative", c.MaxFileBytes)
	case c.MaxFileBytes == 0:
		c.MaxFileBytes = DefaultMaxFileBytes
	}
	switch {
	case c.MaxFiles < 0:
		return fmt.Errorf("MaxFiles %d is negative", c.MaxFiles)
	case c.MaxFiles == 0:
		c.MaxFiles = DefaultMaxFiles
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		l := logrus.New()
		l.Out = io.Discard
		c.Logger = logrus.NewEntry(l)
	}
	c.Logger = c.Logger.WithField("component", "auditlog")
	return nil
}

// Log is an append-only, hash-chained audit trail in a directory. It is
// safe for concurrent use; one process at a time may hold a directory.
type Log struct {
	dir string
	cfg Config
	log *logrus.Entry

	mu       sync.Mutex
	f        *os.File
	size     int64  // bytes in audit.log
	curFirst uint64 // seq of audit.log's first record; 0 while it is empty
	lastSeq  uint64
	lastHash string
	// err is sticky after a failed fsync: what reached the disk is then
	// unknown (and Linux may have dropped the dirty pages), so appending
	// more would build on sand. Reopening re-reads the file.
	err error
}

var _ agent.AuditLog = (*Log)(nil)

// Open opens the audit trail in dir, creating dir if needed, cutting off a
// torn last line, and continuing the chain from the last intact record.
func Open(dir string, cfg Config) (*Log, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("auditlog.Open: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auditlog.Open: %w", err)
	}
	l := &Log{dir: dir, cfg: cfg, log: cfg.Logger.WithField("dir", dir), lastHash: Genesis}
	if err := l.recover(); err != nil {
		return nil, fmt.Errorf("auditlog.Open: %w", err)
	}
	if err := l.prune(); err != nil {
		_ = l.f.Close()
		return nil, fmt.Errorf("auditlog.Open: %w", err)
	}
	return l, nil
}

// recover finds where the chain stands and opens audit.log for appending.
func (l *Log) recover() error {
	cur := filepath.Join(l.dir, CurrentName)
	data, err := os.ReadFile(cur)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if keep := bytes.LastIndexByte(data, '\n') + 1; keep < len(data) {
		l.log.WithFields(logrus.Fields{"file": CurrentName, "offset": keep, "bytes": len(data) - keep}).
			Warn("audit log ends in a torn line (a write cut short, e.g. by power loss): cutting it off and continuing from the last complete record")
		if err := truncateSync(cur, int64(keep)); err != nil {
			return err
		}
		data = data[:keep]
	}
	l.size = int64(len(data))

	// The last record is in audit.log, or, if that is empty or missing
	// (a crash between rotation's rename and the first append), in the
	// newest rotated file.
	file, tail := CurrentName, data
	if len(data) == 0 {
		segs, err := segments(l.dir)
		if err != nil {
			return err
		}
		for i := len(segs) - 1; i >= 0; i-- {
			if segs[i].current {
				continue
			}
			file = segs[i].name
			if tail, err = os.ReadFile(filepath.Join(l.dir, file)); err != nil {
				return err
			}
			break
		}
	}
	if lines := bytes.Split(bytes.TrimSuffix(tail, []byte("\n")), []byte("\n")); len(tail) > 0 {
		last, err := parse(lines[len(lines)-1])
		if err != nil {
			return fmt.Errorf("%w: last line of %s (line %d): %v", ErrCorrupt, file, len(lines), err)
		}
		if Hash(last) != last.Hash {
			// Continue anyway: the chain from here on stays checkable and
			// Verify names this record; refusing would stop all auditing.
			l.log.WithFields(logrus.Fields{"file": file, "seq": last.Seq}).
				Error("last audit record does not match its hash: the log was altered; run `rms-agent audit verify`")
		}
		l.lastSeq, l.lastHash = last.Seq, last.Hash
		if file == CurrentName {
			first, err := parse(lines[0])
			if err != nil {
				return fmt.Errorf("%w: first line of %s: %v", ErrCorrupt, file, err)
			}
			l.curFirst = first.Seq
		}
	}

	f, err := os.OpenFile(cur, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	l.f = f
	// The file may have just been created: make its name durable too.
	return syncDir(l.dir)
}

// Hash computes a record's hash from its canonical encoding (see doc.go).
// Hash and the JSON line agree only for the normalised strings Append
// stores; a record read back from its line always is.
func Hash(e agent.AuditEvent) string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
		b.WriteByte(';')
	}
	b.WriteString(hashTag)
	b.WriteByte(';')
	field(e.PrevHash)
	field(strconv.FormatUint(e.Seq, 10))
	field(e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z"))
	field(e.Actor)
	field(e.Action)
	field(e.Outcome)
	field(e.Detail)
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// Append chains e after the last record, writes it as one line, fsyncs,
// and returns it as stored.
func (l *Log) Append(e agent.AuditEvent) (agent.AuditEvent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return agent.AuditEvent{}, fmt.Errorf("auditlog.Append: %w", ErrClosed)
	}
	if l.err != nil {
		return agent.AuditEvent{}, fmt.Errorf("auditlog.Append: an earlier write failed, reopen the log: %w", l.err)
	}
	if e.Time.IsZero() {
		e.Time = l.cfg.Now()
	}
	// UTC and no monotonic reading: what the line will give back.
	e.Time = e.Time.UTC().Round(0)
	e.Actor, e.Action, e.Outcome, e.Detail = validUTF8(e.Actor), validUTF8(e.Action), validUTF8(e.Outcome), validUTF8(e.Detail)
	e.Seq = l.lastSeq + 1
	e.PrevHash = l.lastHash
	e.Hash = Hash(e)
	line, err := json.Marshal(e)
	if err != nil {
		return agent.AuditEvent{}, fmt.Errorf("auditlog.Append: %w", err)
	}
	line = append(line, '\n')

	if l.size > 0 && l.size+int64(len(line)) > l.cfg.MaxFileBytes {
		if err := l.rotate(); err != nil {
			return agent.AuditEvent{}, fmt.Errorf("auditlog.Append: rotate: %w", err)
		}
	}
	if n, err := l.f.Write(line); err != nil {
		// Take back a partial line so the next append does not follow
		// garbage; if even that fails, Open will cut it as a torn line.
		if n > 0 {
			_ = l.f.Truncate(l.size)
		}
		return agent.AuditEvent{}, fmt.Errorf("auditlog.Append: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		l.err = err
		return agent.AuditEvent{}, fmt.Errorf("auditlog.Append: %w", err)
	}
	if l.size == 0 {
		l.curFirst = e.Seq
	}
	l.size += int64(len(line))
	l.lastSeq, l.lastHash = e.Seq, e.Hash
	return e, nil
}

// rotate renames audit.log after its first record and starts a new one.
// Each step leaves a state Open recovers from: the rename is atomic, and a
// missing audit.log means "continue from the newest rotated file".
func (l *Log) rotate() error {
	if err := l.f.Close(); err != nil {
		return err
	}
	l.f = nil
	cur := filepath.Join(l.dir, CurrentName)
	name := rotatedName(l.curFirst)
	if err := os.Rename(cur, filepath.Join(l.dir, name)); err != nil {
		return l.reopen(err)
	}
	f, err := os.OpenFile(cur, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		l.err = err // the chain is safe in the rotated file; Open resumes it
		return err
	}
	l.f, l.size, l.curFirst = f, 0, 0
	if err := syncDir(l.dir); err != nil {
		return err
	}
	l.log.WithFields(logrus.Fields{"file": name, "last_seq": l.lastSeq}).Info("rotated audit log")
	return l.prune()
}

// reopen puts audit.log back after a failed rename, so one failed rotation
// does not close the log for good.
func (l *Log) reopen(cause error) error {
	f, err := os.OpenFile(filepath.Join(l.dir, CurrentName), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return errors.Join(cause, err)
	}
	l.f = f
	return cause
}

// prune deletes the oldest rotated files beyond MaxFiles (audit.log counts
// as one, present or not).
func (l *Log) prune() error {
	segs, err := segments(l.dir)
	if err != nil {
		return err
	}
	var rotated []segment
	for _, s := range segs {
		if !s.current {
			rotated = append(rotated, s)
		}
	}
	excess := len(rotated) + 1 - l.cfg.MaxFiles
	if excess <= 0 {
		return nil
	}
	for _, s := range rotated[:excess] {
		if err := os.Remove(filepath.Join(l.dir, s.name)); err != nil {
			return err
		}
		l.log.WithField("file", s.name).Info("deleted the oldest audit file (MaxFiles reached)")
	}
	return syncDir(l.dir)
}

// Head reports the last record's seq and hash (0 and Genesis when empty).
func (l *Log) Head() (uint64, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastSeq, l.lastHash
}

// Dir is the directory the log lives in, for Verify and Read.
func (l *Log) Dir() string { return l.dir }

// Close closes the current file; every appended record is already synced.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("auditlog.Close: %w", err)
	}
	return nil
}

// segment is one file of the trail.
type segment struct {
	name    string
	first   uint64 // from a rotated file's name; 0 for audit.log
	current bool
}

func rotatedName(first uint64) string { return fmt.Sprintf("audit-%020d.log", first) }

// segments lists the trail's files oldest first: rotated ones by the seq
// in their names, then audit.log. Other files are ignored.
func segments(dir string) ([]segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []segment
	current := false
	for _, e := range entries {
		name := e.Name()
		if name == CurrentName {
			current = true
			continue
		}
		digits, ok := strings.CutPrefix(name, "audit-")
		if !ok {
			continue
		}
		if digits, ok = strings.CutSuffix(digits, ".log"); !ok || len(digits) != 20 {
			continue
		}
		first, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, segment{name: name, first: first})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].first < segs[j].first })
	if current {
		segs = append(segs, segment{name: CurrentName, current: true})
	}
	return segs, nil
}

// parse reads one line strictly: a field the record does not have, or
// anything after the object, is an alteration like any other.
func parse(line []byte) (agent.AuditEvent, error) {
	var e agent.AuditEvent
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return e, errors.New("trailing data after the record")
	}
	return e, nil
}

// validUTF8 replaces each invalid byte with U+FFFD, exactly as
// encoding/json will when it writes the line, so that the hash is computed
// over the string that a reader gets back.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes renames, creations and deletions in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
