package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLockKey is the pg_advisory_lock key that serialises migrations
// of replicas starting together ("rmsmigr" in ASCII).
const migrationLockKey = 0x726d736d69677200

func migrationNames() ([]string, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, strings.TrimSuffix(e.Name(), ".sql"))
		}
	}
	sort.Strings(names)
	return names, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    name       TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL
)`

func (s *Store) appliedMigrations(ctx context.Context, q querier) (map[string]bool, error) {
	rows, err := s.query(ctx, q, "SELECT name FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		applied[n] = true
	}
	return applied, rows.Err()
}

// migrate applies the embedded migrations not yet recorded, each in its own
// transaction together with its schema_migrations row. All of it runs on one
// connection so that, on PostgreSQL, the session advisory lock covers it.
func (s *Store) migrate(ctx context.Context) error {
	names, err := migrationNames()
	if err != nil {
		return internal("Open", err)
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return unavailable("Open", err)
	}
	defer conn.Close()
	if s.d == postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockKey)); err != nil {
			return unavailable("Open", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLockKey))
	}
	if _, err := conn.ExecContext(ctx, createMigrationsTable); err != nil {
		return unavailable("Open", err)
	}
	for _, name := range names {
		body, err := migrationFS.ReadFile("migrations/" + name + ".sql")
		if err != nil {
			return internal("Open", err)
		}
		applied, err := s.applyMigration(ctx, conn, name, s.d.types.Replace(string(body)))
		if err != nil {
			return unavailable("Open", fmt.Errorf("migration %s: %w", name, err))
		}
		if applied {
			s.migrated = append(s.migrated, name)
			s.log.WithField("migration", name).Info("applied migration")
		}
	}
	return nil
}

// applyMigration applies one migration unless it is recorded. The check is
// inside the transaction: on SQLite, where there is no advisory lock, the
// immediate transaction's write lock is what keeps two processes from both
// applying it.
func (s *Store) applyMigration(ctx context.Context, conn *sql.Conn, name, body string) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var n int
	if err := s.queryRow(ctx, tx, "SELECT COUNT(*) FROM schema_migrations WHERE name = ?", name).Scan(&n); err != nil || n > 0 {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return false, err
	}
	if _, err := s.exec(ctx, tx, "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
		name, s.cfg.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
