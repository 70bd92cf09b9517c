package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/rmsproject/rms/server"
)

// Argon2id parameters (RFC 9106's second recommended option, with 64 MiB).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
	saltLen      = 16
)

// Bounds on the parameters CheckPassword accepts from a stored hash: far
// above what HashPassword writes, far below what would exhaust the host.
const (
	maxArgonTime   = 64
	maxArgonMemory = 1 << 20 // KiB: 1 GiB
)

// MinPasswordLength is the shortest password HashPassword accepts.
const MinPasswordLength = 12

// HashPassword returns password as a PHC string
// ($argon2id$v=19$m=65536,t=3,p=2$salt$hash).
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", server.Errorf(server.CodeMalformed, "password must be at least %d characters", MinPasswordLength)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth.HashPassword: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches a PHC argon2id hash.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("auth.CheckPassword: not an argon2id hash")
	}
	var version int
	var mem, iter uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("auth.CheckPassword: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iter, &threads); err != nil {
		return false, errors.New("auth.CheckPassword: bad parameters")
	}
	// argon2 panics on zero rounds or threads, and a huge memory cost is a
	// fatal out-of-memory that no recover catches: one bad stored hash must
	// not take the server down.
	if iter < 1 || iter > maxArgonTime || threads < 1 || mem < 8*uint32(threads) || mem > maxArgonMemory {
		return false, errors.New("auth.CheckPassword: parameters out of range")
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 1024 {
		return false, errors.New("auth.CheckPassword: bad encoding")
	}
	got := argon2.IDKey([]byte(password), salt, iter, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Config configures an Authenticator.
type Config struct {
	Users    server.UserStore // required
	CacheTTL time.Duration    // how long a successful check is remembered; default 5m
	Now      func() time.Time
}

// Authenticator implements server.Authenticator.
type Authenticator struct {
	cfg Config
	// Concurrent slow hashes are bounded: each takes 64 MiB.
	slots chan struct{}

	mu    sync.Mutex
	cache map[[32]byte]cached

	dummyOnce sync.Once
	dummy     string // a hash to check unknown users against
}

type cached struct {
	user    server.User
	expires time.Time
}

var _ server.Authenticator = (*Authenticator)(nil)

// New returns an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Users == nil {
		return nil, errors.New("auth.New: Users is required")
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authenticator{cfg: cfg, slots: make(chan struct{}, 4), cache: map[[32]byte]cached{}}, nil
}

// errDenied is deliberately the same for an unknown user and a wrong
// password, so the answer does not reveal which names exist.
var errDenied = server.Errorf(server.CodeForbidden, "invalid username or password")

// Authenticate implements server.Authenticator.
func (a *Authenticator) Authenticate(ctx context.Context, username, password string) (*server.User, error) {
	if username == "" || password == "" || len(username) > 128 || len(password) > 1024 {
		return nil, errDenied
	}
	// The key is a hash of both, so the cache never holds a password.
	key := sha256.Sum256([]byte(username + "\x00" + password))
	now := a.cfg.Now()
	a.mu.Lock()
	if c, ok := a.cache[key]; ok && now.Before(c.expires) {
		a.mu.Unlock()
		u := c.user
		return &u, nil
	}
	a.mu.Unlock()

	u, err := a.cfg.Users.GetUser(ctx, username)
	if server.CodeOf(err) == server.CodeNotFound {
		// Hash anyway, so an unknown name takes as long to refuse as a
		// wrong password and timing does not tell which names exist.
		a.dummyOnce.Do(func() { a.dummy, _ = HashPassword("not-a-real-password-" + username) })
		if _, err := a.check(ctx, a.dummy, password); server.CodeOf(err) == server.CodeUnavailable {
			return nil, err
		}
		return nil, errDenied
	}
	if err != nil {
		return nil, fmt.Errorf("auth.Authenticate: %w", err)
	}
	ok, err := a.check(ctx, u.PasswordHash, password)
	if server.CodeOf(err) == server.CodeUnavailable {
		return nil, err
	}
	if err != nil {
		return nil, server.Wrap(server.CodeInternal, "stored password hash is unusable", err)
	}
	if !ok {
		return nil, errDenied
	}
	a.mu.Lock()
	if len(a.cache) > 10000 {
		clear(a.cache)
	}
	a.cache[key] = cached{user: *u, expires: now.Add(a.cfg.CacheTTL)}
	a.mu.Unlock()
	return u, nil
}

// check runs one slow hash in a bounded slot.
func (a *Authenticator) check(ctx context.Context, hash, password string) (bool, error) {
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return false, server.Wrap(server.CodeUnavailable, "authentication was interrupted", ctx.Err())
	}
	defer func() { <-a.slots }()
	return CheckPassword(hash, password)
}

// Authorize implements server.Authenticator. Only admins exist so far, and
// they may do everything; finer roles and per-customer scopes go here.
func (a *Authenticator) Authorize(u *server.User, action string) error {
	if u == nil {
		return server.Errorf(server.CodeForbidden, "not authenticated")
	}
	if u.Role == server.RoleAdmin {
		return nil
	}
	return server.Errorf(server.CodeForbidden, "user %s may not %s", u.Name, action)
}

// GeneratePassword returns a random password for the first admin.
func GeneratePassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth.GeneratePassword: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
