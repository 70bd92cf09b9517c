package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
	"github.com/rmsproject/rms/server"
	"github.com/sirupsen/logrus"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ server.Store = (*Store)(nil)

// Config configures a Store.
type Config struct {
	// URL is sqlite:PATH (sqlite::memory: for a private in-memory
	// database), or a postgres:// or postgresql:// URL.
	URL string
	// Logger may be nil, which discards.
	Logger *logrus.Entry
	// MessageRetention is how long (device, messageId) idempotency records
	// are kept; a repeat older than this is applied again. Default 7 days.
	MessageRetention time.Duration
	// MaxOpenConns bounds the PostgreSQL pool. Default 16.
	MaxOpenConns int
	// Now is the clock for the few methods that take no time argument.
	// Default time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultMessageRetention = 7 * 24 * time.Hour
	DefaultMaxOpenConns     = 16
)

func (c *Config) validate() error {
	if strings.TrimSpace(c.URL) == "" {
		return errors.New("sqlstore: Config.URL is empty")
	}
	if c.MessageRetention < 0 {
		return errors.New("sqlstore: Config.MessageRetention is negative")
	}
	if c.MessageRetention == 0 {
		c.MessageRetention = DefaultMessageRetention
	}
	if c.MaxOpenConns < 0 {
		return errors.New("sqlstore: Config.MaxOpenConns is negative")
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = DefaultMaxOpenConns
	}
	if c.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		c.Logger = logrus.NewEntry(l)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Store implements server.Store on PostgreSQL or SQLite.
type Store struct {
	revoked revocations
	cfg     Config
	d       *dialect
	log     *logrus.Entry
	// w runs every transaction and write; r runs plain reads. On
	// PostgreSQL they are the same pool. On SQLite w has one connection, so
	// writers queue in Go instead of failing with SQLITE_BUSY, while WAL
	// lets the r pool read alongside.
	w, r *sql.DB

	migrated []string
	hub      *hub
	listener *pq.Listener
	closing  sync.Once
	done     chan struct{}
}

// Open connects, migrates the schema and returns a ready Store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, &server.Error{Code: server.CodeMalformed, Message: "invalid store configuration", Err: err}
	}
	s := &Store{cfg: cfg, hub: newHub(), done: make(chan struct{})}
	var err error
	switch {
	case strings.HasPrefix(cfg.URL, "sqlite:"):
		s.d = sqlite
		s.log = cfg.Logger.WithField("component", "sqlstore").WithField("dialect", "sqlite")
		err = s.openSQLite(strings.TrimPrefix(cfg.URL, "sqlite:"))
	case strings.HasPrefix(cfg.URL, "postgres://"), strings.HasPrefix(cfg.URL, "postgresql://"):
		s.d = postgres
		s.log = cfg.Logger.WithField("component", "sqlstore").WithField("dialect", "postgres")
		err = s.openPostgres()
	default:
		return nil, server.Errorf(server.CodeMalformed, "store URL must start with sqlite:, postgres:// or postgresql://")
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.d == postgres {
		if err := s.listen(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) openSQLite(path string) error {
	if path == "" || strings.ContainsAny(path, "?#") {
		return server.Errorf(server.CodeMalformed, "sqlite store URL needs a plain file path")
	}
	// busy_timeout still matters: another process, or a checkpoint, can
	// hold the lock our single writer wants. FULL sync because an answered
	// request must be on disk.
	params := "?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	if path == ":memory:" {
		// A memory database lives in its connection, so there is only one.
		db, err := sql.Open("sqlite", ":memory:"+params)
		if err != nil {
			return unavailable("Open", err)
		}
		db.SetMaxOpenConns(1)
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
		s.w, s.r = db, db
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return unavailable("Open", err)
	}
	params += "&_pragma=journal_mode(WAL)"
	w, err := sql.Open("sqlite", path+params)
	if err != nil {
		return unavailable("Open", err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", path+params+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return unavailable("Open", err)
	}
	r.SetMaxOpenConns(4)
	s.w, s.r = w, r
	return nil
}

func (s *Store) openPostgres() error {
	if _, err := url.Parse(s.cfg.URL); err != nil {
		return &server.Error{Code: server.CodeMalformed, Message: "invalid PostgreSQL URL", Err: fmt.Errorf("sqlstore.Open: %w", err)}
	}
	db, err := sql.Open("postgres", s.cfg.URL)
	if err != nil {
		return unavailable("Open", err)
	}
	db.SetMaxOpenConns(s.cfg.MaxOpenConns)
	db.SetMaxIdleConns(s.cfg.MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.w, s.r = db, db
	return nil
}

// Dialect is "postgres" or "sqlite".
func (s *Store) Dialect() string { return s.d.name }

// Migrated names the migrations this Open applied, in order.
func (s *Store) Migrated() []string { return append([]string(nil), s.migrated...) }

// Close stops the listener and closes the pools. Watch channels stay open
// but are never woken again.
func (s *Store) Close() error {
	var err error
	s.closing.Do(func() {
		close(s.done)
		if s.listener != nil {
			_ = s.listener.Close()
		}
		err = s.w.Close()
		if s.r != s.w {
			if e := s.r.Close(); err == nil {
				err = e
			}
		}
	})
	return unavailable("Close", err)
}

// Ping checks that the store answers and every embedded migration is applied.
func (s *Store) Ping(ctx context.Context) error {
	applied, err := s.appliedMigrations(ctx, s.r)
	if err != nil {
		return unavailable("Ping", err)
	}
	names, err := migrationNames()
	if err != nil {
		return internal("Ping", err)
	}
	for _, n := range names {
		if !applied[n] {
			return &server.Error{Code: server.CodeUnavailable, Message: "the store schema is not up to date",
				Err: fmt.Errorf("sqlstore.Ping: migration %s not applied", n)}
		}
	}
	return nil
}

// --- errors ---

// unavailable wraps a driver or connection failure. The message is
// generic: the cause (SQL, paths, driver text) stays in Err for logs.
func unavailable(method string, err error) error {
	if err == nil {
		return nil
	}
	var se *server.Error
	if errors.As(err, &se) {
		return err
	}
	return &server.Error{Code: server.CodeUnavailable, Message: "the store is unavailable", Err: fmt.Errorf("sqlstore.%s: %w", method, err)}
}

func internal(method string, err error) error {
	return &server.Error{Code: server.CodeInternal, Message: "internal error", Err: fmt.Errorf("sqlstore.%s: %w", method, err)}
}

// fail returns a domain error with the method name in its cause.
func fail(method string, code server.Code, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &server.Error{Code: code, Message: msg, Err: fmt.Errorf("sqlstore.%s: %s", method, msg)}
}

// --- query helpers ---

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	return q.ExecContext(ctx, s.d.rebind(query), args...)
}

func (s *Store) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	return q.QueryContext(ctx, s.d.rebind(query), args...)
}

func (s *Store) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	return q.QueryRowContext(ctx, s.d.rebind(query), args...)
}

// t is a time argument in the dialect's representation; zero is NULL.
func (s *Store) t(t time.Time) any { return s.d.timeArg(t) }

// inTx runs fn in a write transaction, committing when it returns nil.
// Errors from fn pass through as they are; driver errors become
// CodeUnavailable.
func (s *Store) inTx(ctx context.Context, method string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(method, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return unavailable(method, err)
	}
	if err := tx.Commit(); err != nil {
		return unavailable(method, err)
	}
	return nil
}

// placeholders returns "(?,?,?),(?,?,?)" for rows×cols.
func placeholders(rows, cols int) string {
	one := "(" + strings.Repeat("?,", cols-1) + "?)"
	return strings.Repeat(one+",", rows-1) + one
}
