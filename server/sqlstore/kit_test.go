package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/uuid"
	_ "github.com/lib/pq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures/testenv"
	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/sqlstore"
)

// pgBaseURL is the server the postgres-labelled specs use; RMS_TEST_POSTGRES
// overrides it. Each run creates its own databases there and drops them.
func pgBaseURL() string {
	if u := os.Getenv("RMS_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

var pgDatabases struct {
	sync.Mutex
	names []string
}

// createPGDatabase creates a fresh, uniquely named database and returns its
// URL; dropPGDatabases removes every one created.
func createPGDatabase() (string, error) {
	base := pgBaseURL()
	db, err := sql.Open("postgres", base)
	if err != nil {
		return "", err
	}
	defer db.Close()
	name := "rms_sqlstore_" + uuid.NewString()[:8]
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		return "", err
	}
	pgDatabases.Lock()
	pgDatabases.names = append(pgDatabases.names, name)
	pgDatabases.Unlock()
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func dropPGDatabases() error {
	pgDatabases.Lock()
	defer pgDatabases.Unlock()
	if len(pgDatabases.names) == 0 {
		return nil
	}
	db, err := sql.Open("postgres", pgBaseURL())
	if err != nil {
		return err
	}
	defer db.Close()
	for _, n := range pgDatabases.names {
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + n + " WITH (FORCE)"); err != nil {
			return err
		}
	}
	pgDatabases.names = nil
	return nil
}

var _ = AfterSuite(func() {
	Expect(dropPGDatabases()).To(Succeed())
})

// pgShared is the one database most postgres specs share; specs use fresh
// ids, so they do not see each other.
var pgShared struct {
	once sync.Once
	url  string
	err  error
}

func pgURL() string {
	pgShared.once.Do(func() {
		pgShared.url, pgShared.err = createPGDatabase()
	})
	if pgShared.err != nil {
		testenv.Missing(fmt.Sprintf("PostgreSQL at %s (%v)", pgBaseURL(), pgShared.err))
	}
	return pgShared.url
}

func freshPG() string {
	pgURL() // skips when PostgreSQL is missing
	u, err := createPGDatabase()
	Expect(err).NotTo(HaveOccurred())
	return u
}

func freshSQLite() string {
	return "sqlite:" + filepath.Join(GinkgoT().TempDir(), "var", "rms.db")
}

// openStore opens a Store and closes it when the spec ends.
func openStore(url string) *sqlstore.Store {
	GinkgoHelper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: url})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(s.Close)
	return s
}

func codeOf(err error) server.Code { return server.CodeOf(err) }

func id(prefix string) string { return prefix + "-" + uuid.NewString()[:12] }
