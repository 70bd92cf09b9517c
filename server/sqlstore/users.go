package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/rmsproject/rms/server"
)

// CreateUser implements server.UserStore.
func (s *Store) CreateUser(ctx context.Context, u server.User) error {
	const method = "CreateUser"
	if u.Name == "" || u.Role == "" || u.PasswordHash == "" {
		return fail(method, server.CodeMalformed, "user name, role and password hash are required")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.cfg.Now()
	}
	res, err := s.exec(ctx, s.w, `INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, u.Name, u.Role, u.PasswordHash, s.t(u.CreatedAt))
	if err != nil {
		return unavailable(method, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable(method, err)
	} else if n == 0 {
		return fail(method, server.CodeConflict, "user %s already exists", u.Name)
	}
	return nil
}

// GetUser implements server.UserStore.
func (s *Store) GetUser(ctx context.Context, name string) (*server.User, error) {
	var u server.User
	err := s.queryRow(ctx, s.r, "SELECT name, role, password_hash, created_at FROM users WHERE name = ?", name).
		Scan(&u.Name, &u.Role, &u.PasswordHash, tcol{&u.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail("GetUser", server.CodeNotFound, "user %s not found", name)
	}
	if err != nil {
		return nil, unavailable("GetUser", err)
	}
	return &u, nil
}

// CountUsers implements server.UserStore.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.queryRow(ctx, s.r, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		return 0, unavailable("CountUsers", err)
	}
	return n, nil
}
