package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/auth"
)

// fakeUsers is a UserStore that counts lookups, so specs can tell a cache
// hit from a second trip to the store.
type fakeUsers struct {
	mu      sync.Mutex
	users   map[string]server.User
	lookups int
	err     error
}

func (f *fakeUsers) CreateUser(_ context.Context, u server.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[u.Name] = u
	return nil
}

func (f *fakeUsers) GetUser(_ context.Context, name string) (*server.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.err != nil {
		return nil, f.err
	}
	u, ok := f.users[name]
	if !ok {
		return nil, server.Errorf(server.CodeNotFound, "user %s not found", name)
	}
	return &u, nil
}

func (f *fakeUsers) CountUsers(context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.users), nil
}

func (f *fakeUsers) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups
}

const password = "correct horse battery"

// hash is computed once: each argon2id hash costs 64 MiB and real time.
var hash string

var _ = BeforeSuite(func() {
	var err error
	hash, err = auth.HashPassword(password)
	Expect(err).NotTo(HaveOccurred())
})

var _ = Describe("HashPassword and CheckPassword", func() {
	DescribeTable("refuse passwords shorter than MinPasswordLength",
		func(pw string, ok bool) {
			h, err := auth.HashPassword(pw)
			if !ok {
				Expect(server.CodeOf(err)).To(Equal(server.CodeMalformed))
				Expect(h).To(BeEmpty())
				return
			}
			Expect(err).NotTo(HaveOccurred())
			match, err := auth.CheckPassword(h, pw)
			Expect(err).NotTo(HaveOccurred())
			Expect(match).To(BeTrue())
		},
		Entry("empty", "", false),
		Entry("11 characters", strings.Repeat("a", auth.MinPasswordLength-1), false),
		Entry("12 characters", strings.Repeat("a", auth.MinPasswordLength), true),
	)

	It("writes a PHC argon2id string with a fresh salt", func() {
		Expect(hash).To(HavePrefix("$argon2id$v=19$m=65536,t=3,p=2$"))
		Expect(hash).NotTo(ContainSubstring(password))
	})

	It("round-trips the right password and refuses a wrong one", func() {
		ok, err := auth.CheckPassword(hash, password)
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		ok, err = auth.CheckPassword(hash, password+"!")
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeFalse())
		ok, err = auth.CheckPassword(hash, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeFalse())
	})

	// Small, valid parameters keep the specs fast where a hash must be
	// computed; the malformed ones must be refused before any hashing, and
	// never panic inside argon2.
	DescribeTable("reports a malformed hash as an error",
		func(h string) {
			ok, err := auth.CheckPassword(h, password)
			Expect(err).To(HaveOccurred())
			Expect(ok).To(BeFalse())
		},
		Entry("empty", ""),
		Entry("bcrypt", "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"),
		Entry("argon2i", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
		Entry("too few fields", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ"),
		Entry("too many fields", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g$x"),
		Entry("another version", "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
		Entry("no version", "$argon2id$x$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
		Entry("parameters out of order", "$argon2id$v=19$t=1,m=64,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
		Entry("parameters not numbers", "$argon2id$v=19$m=a,t=b,p=c$c2FsdHNhbHQ$aGFzaGhhc2g"),
		Entry("salt not base64", "$argon2id$v=19$m=64,t=1,p=1$!!!$aGFzaGhhc2g"),
		Entry("key not base64", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$!!!"),
		Entry("empty key", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$"),
		Entry("zero rounds", "$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
		Entry("zero threads", "$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$aGFzaGhhc2g"),
		Entry("absurd memory", "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
	)

	It("gives the first admin a random password long enough to hash", func() {
		a, err := auth.GeneratePassword()
		Expect(err).NotTo(HaveOccurred())
		b, err := auth.GeneratePassword()
		Expect(err).NotTo(HaveOccurred())
		Expect(len(a)).To(BeNumerically(">=", auth.MinPasswordLength))
		Expect(a).NotTo(Equal(b))
	})
})

var _ = Describe("Authenticator", func() {
	var (
		users *fakeUsers
		now   time.Time
		a     *auth.Authenticator
		ctx   context.Context
	)
	BeforeEach(func() {
		ctx = context.Background()
		now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		users = &fakeUsers{users: map[string]server.User{
			"admin":  {Name: "admin", Role: server.RoleAdmin, PasswordHash: hash},
			"viewer": {Name: "viewer", Role: "viewer", PasswordHash: hash},
			"broken": {Name: "broken", Role: server.RoleAdmin, PasswordHash: "not a hash"},
		}}
		var err error
		a, err = auth.New(auth.Config{Users: users, CacheTTL: time.Minute, Now: func() time.Time { return now }})
		Expect(err).NotTo(HaveOccurred())
	})

	It("needs a user store", func() {
		_, err := auth.New(auth.Config{})
		Expect(err).To(HaveOccurred())
	})

	It("authenticates the right password", func() {
		u, err := a.Authenticate(ctx, "admin", password)
		Expect(err).NotTo(HaveOccurred())
		Expect(u.Name).To(Equal("admin"))
		Expect(u.Role).To(Equal(server.RoleAdmin))
	})

	It("answers an unknown user and a wrong password alike, so names cannot be probed", func() {
		_, unknown := a.Authenticate(ctx, "nobody", password)
		_, wrong := a.Authenticate(ctx, "admin", "wrong password!")
		Expect(server.CodeOf(unknown)).To(Equal(server.CodeForbidden))
		Expect(server.CodeOf(wrong)).To(Equal(server.CodeForbidden))
		Expect(server.MessageOf(unknown)).To(Equal(server.MessageOf(wrong)))
		Expect(unknown.Error()).To(Equal(wrong.Error()))
	})

	DescribeTable("refuses credentials no account can have without asking the store",
		func(user, pw string) {
			_, err := a.Authenticate(ctx, user, pw)
			Expect(server.CodeOf(err)).To(Equal(server.CodeForbidden))
			Expect(users.count()).To(BeZero())
		},
		Entry("no user name", "", password),
		Entry("no password", "admin", ""),
		Entry("a user name past 128 bytes", strings.Repeat("u", 129), password),
		Entry("a password past 1024 bytes", "admin", strings.Repeat("p", 1025)),
	)

	It("remembers a success for CacheTTL, then asks the store again", func() {
		_, err := a.Authenticate(ctx, "admin", password)
		Expect(err).NotTo(HaveOccurred())
		Expect(users.count()).To(Equal(1))
		u, err := a.Authenticate(ctx, "admin", password)
		Expect(err).NotTo(HaveOccurred())
		Expect(u.Name).To(Equal("admin"))
		Expect(users.count()).To(Equal(1), "the second check was a cache hit")

		now = now.Add(time.Minute)
		_, err = a.Authenticate(ctx, "admin", password)
		Expect(err).NotTo(HaveOccurred())
		Expect(users.count()).To(Equal(2), "an expired entry is checked again")
	})

	It("does not let a cached success vouch for another password", func() {
		_, err := a.Authenticate(ctx, "admin", password)
		Expect(err).NotTo(HaveOccurred())
		_, err = a.Authenticate(ctx, "admin", password+"x")
		Expect(server.CodeOf(err)).To(Equal(server.CodeForbidden))
		Expect(users.count()).To(Equal(2))
	})

	It("does not cache a failure", func() {
		for range 2 {
			_, err := a.Authenticate(ctx, "admin", "wrong password!")
			Expect(server.CodeOf(err)).To(Equal(server.CodeForbidden))
		}
		Expect(users.count()).To(Equal(2))
	})

	It("hands out a copy, so a caller cannot change the cached user", func() {
		u, err := a.Authenticate(ctx, "viewer", password)
		Expect(err).NotTo(HaveOccurred())
		u.Role = server.RoleAdmin
		again, err := a.Authenticate(ctx, "viewer", password)
		Expect(err).NotTo(HaveOccurred())
		Expect(again.Role).To(Equal("viewer"))
	})

	It("passes a store outage on as retryable and a broken stored hash as internal", func() {
		_, err := a.Authenticate(ctx, "broken", password)
		Expect(server.CodeOf(err)).To(Equal(server.CodeInternal))
		Expect(server.MessageOf(err)).NotTo(ContainSubstring("not a hash"))

		users.err = server.Wrap(server.CodeUnavailable, "store down", errors.New("connection refused"))
		_, err = a.Authenticate(ctx, "admin", password)
		Expect(server.CodeOf(err)).To(Equal(server.CodeUnavailable))
	})

	DescribeTable("Authorize lets admins do everything and no one else anything",
		func(u *server.User, ok bool) {
			err := a.Authorize(u, "QueueInstruction")
			if ok {
				Expect(err).NotTo(HaveOccurred())
			} else {
				Expect(server.CodeOf(err)).To(Equal(server.CodeForbidden))
			}
		},
		Entry("an admin", &server.User{Name: "admin", Role: server.RoleAdmin}, true),
		Entry("another role", &server.User{Name: "viewer", Role: "viewer"}, false),
		Entry("no role", &server.User{Name: "ghost"}, false),
		Entry("nobody", nil, false),
	)
})
